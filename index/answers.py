"""Gorilla's answer formats, and the eval files' question text.

Answers come as `<<<domain>>>: ..., <<<api_call>>>: hub.KerasLayer('...'), <<<api_provider>>>: ...`, as a
Python-dict-shaped string with the same keys, or as free text. The model engine and the evaluation share this parser.
"""

from __future__ import annotations

import re

import msgspec

_QUESTION = re.compile(r"###\s*Instruction:\s*(.*?)\s*###\s*Output:", re.S)
_MARKED_CALL = re.compile(r"<<<api_call>>>\s*:\s*(.*?)(?:,?\s*<<<|\n|$)", re.S)
_DICT_CALL = re.compile(r"""['"]api_call['"]\s*:\s*(?:\\?["'])(.*?)(?:\\?["'])\s*,\s*['"]api_provider""", re.S)
_DOMAIN = re.compile(r"""(?:<<<domain>>>\s*:|['"]domain['"]\s*:)\s*['"]?([^'",\n<]+)""")


class Answer(msgspec.Struct, frozen=True):
    """What an answer says: the call (as text), and its stated domain when it gives one."""

    api_call: str
    domain: str | None = None


def question_text(code: str) -> str:
    """The question of an eval line's `code` (`###Instruction: ... ###Output: ...`; spacing varies)."""
    match = _QUESTION.search(code)
    if match:
        return match.group(1).strip()
    return code.split("###Output", 1)[0].replace("###Instruction:", "").strip()


def _balanced_call(text: str) -> str:
    """Cut `text` after the parenthesis that closes its first call, so trailing prose is dropped."""
    start = text.find("(")
    if start < 0:
        return text.strip()
    depth = 0
    quote = ""
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if c == quote and text[i - 1] != "\\":
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[: i + 1].strip()
    return text.strip()


def parse_answer(text: str) -> Answer:
    """Pull the call out of an answer in any of Gorilla's formats (free text: the first call-looking line)."""
    if "\\'" in text or '\\"' in text:
        # Some published answers carry their quotes escaped once or twice (`hub.KerasLayer(\\'https://...\\')`).
        text = re.sub(r"\\+n", "\n", re.sub(r"\\+(['\"])", r"\1", text))
    domain_match = _DOMAIN.search(text)
    domain = domain_match.group(1).strip() if domain_match else None
    for pattern in (_MARKED_CALL, _DICT_CALL):
        match = pattern.search(text)
        if match and match.group(1).strip():
            call = match.group(1).strip().strip("`")
            call = re.sub(r"^\w+(?:\s*,\s*\w+)*\s*=\s*(?=[\w.]+\()", "", call)  # `model = torch.hub.load(...)`
            return Answer(_balanced_call(call), domain)
    for line in text.splitlines():
        # A definition (`def load_model():`, chat models' favourite opening) is not the call; its body may be.
        if re.search(r"[\w.]+\(", line) and not re.match(r"\s*(?:async\s+)?(?:def|class)\s", line):
            line = re.sub(r"^\s*\w+(?:\s*,\s*\w+)*\s*=\s*", "", line)
            return Answer(_balanced_call(line), domain)
    return Answer(text.strip(), domain)
