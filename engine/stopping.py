"""When to stop decoding a candidate: the stop policy.

Why: the language server only needs the API call, and every token after it costs latency.
Gorilla answers ``<<<domain>>>: ..., <<<api_call>>>: CALL, <<<api_provider>>>: ...,
<<<explanation>>>: ..., <<<code>>>: ...``; OpenFunctions answers ``CALL`` directly.

The policy, checked after every generated token (in this order):

1. **End token**: the model's end-of-sequence token (or ``end_tokens``) ends the candidate;
   it is not part of the text (finish reason ``"end_token"``).
2. **Call complete** (``stop_at_call_end``): once the text after ``call_marker`` (or after
   the start of the answer when ``call_marker`` is None) has opened a parenthesis and closed
   it again at depth zero, the candidate stops right after that ``)``. Parentheses inside
   Python string literals (``'...'``, ``"..."``) are ignored, so
   ``pipeline('x', model='a (b)')`` is one call.
3. **Stop string**: the first occurrence of any of ``stop_strings`` ends the candidate; the
   text is cut before it. Gorilla's presets stop at ``<<<api_provider>>>`` (the call's
   section is over even when its parentheses never balanced) and at ``###`` (the model
   starting a new ``###USER:`` turn).
4. **Length**: ``max_new_tokens`` generated (finish reason ``"length"``).

Cancellation (finish reason ``"cancelled"``) is checked before all of these, per token.
"""

from __future__ import annotations

from typing import Literal

import msgspec

FinishReason = Literal["end_token", "call_complete", "stop_string", "length", "cancelled"]


class StopPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Documented in the module docstring; presets below."""

    stop_strings: tuple[str, ...] = ()
    stop_at_call_end: bool = False
    call_marker: str | None = None
    end_tokens: tuple[str, ...] = ()
    """Extra end tokens besides the model's EOS (token strings of the vocabulary)."""


GORILLA_CALL_STOP = StopPolicy(
    stop_strings=("<<<api_provider>>>", "###"),
    stop_at_call_end=True,
    call_marker="<<<api_call>>>",
)
"""Gorilla (APIBench models): stop as soon as the ``<<<api_call>>>`` is complete."""

GORILLA_FULL_STOP = StopPolicy(stop_strings=("###",))
"""Gorilla: keep explanation and code, stop only at the next turn or the end token."""

OPENFUNCTIONS_CALL_STOP = StopPolicy(
    stop_strings=("\n###", "<|EOT|>"),
    stop_at_call_end=True,
    call_marker=None,
)
"""OpenFunctions: the answer starts with the call; stop after the first complete call."""

CHAT_CALL_STOP = StopPolicy(
    stop_strings=("<<<api_provider>>>", "<<<explanation>>>"),
    stop_at_call_end=True,
    call_marker="<<<api_call>>>",
)
"""Instruct models (the ``chat`` preset): asked for ``<<<api_call>>>: CALL``, they stop after that call; an answer
in prose or a code block runs to the model's end-of-turn token or the length limit."""

NO_STOP = StopPolicy()
"""Only the end token and the length limit stop decoding."""


class StopMatch(msgspec.Struct, frozen=True):
    """Where a candidate's text must be cut and why."""

    end: int
    reason: FinishReason


def find_call_end(text: str, start: int = 0) -> int | None:
    """Index just past the ``)`` that closes the first call at or after ``start``, if any.

    String literals are skipped (with backslash escapes), so parentheses inside them do not
    count. Returns None while the call is still open or none was opened.
    """
    depth = 0
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in ("'", '"'):
            if depth > 0:
                quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def check_stop(text: str, policy: StopPolicy) -> StopMatch | None:
    """Apply rules 2 and 3 of the policy to a candidate's decoded text so far."""
    best: StopMatch | None = None
    if policy.stop_at_call_end:
        start: int | None = 0
        if policy.call_marker is not None:
            at = text.find(policy.call_marker)
            start = None if at < 0 else at + len(policy.call_marker)
        if start is not None:
            end = find_call_end(text, start)
            if end is not None:
                best = StopMatch(end, "call_complete")
    for stop in policy.stop_strings:
        if not stop:
            continue
        at = text.find(stop)
        if at >= 0 and (best is None or at < best.end):
            best = StopMatch(at, "stop_string")
    return best
