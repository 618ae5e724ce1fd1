"""The stop policy on answer texts (the generator applies it per token)."""

from __future__ import annotations

import pytest

from engine.stopping import (
    GORILLA_CALL_STOP,
    GORILLA_FULL_STOP,
    NO_STOP,
    OPENFUNCTIONS_CALL_STOP,
    StopMatch,
    check_stop,
    find_call_end,
)


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("pipeline('fill-mask', model='bert')", "pipeline('fill-mask', model='bert')"),
        ("f(a, g(b), c) trailing", "f(a, g(b), c)"),
        ("pipeline('x', model='a (b') tail", "pipeline('x', model='a (b')"),
        ('load("a)b\\")", x=1) tail', 'load("a)b\\")", x=1)'),
        ("no call yet", None),
        ("open(call", None),
        ("f(a, 'unterminated)", None),
    ],
)
def test_find_call_end(text: str, call: str | None) -> None:
    end = find_call_end(text)
    assert (None if end is None else text[:end]) == call


def test_gorilla_stops_after_the_api_call() -> None:
    text = (
        "<<<domain>>>: Classification, <<<api_call>>>: torch.hub.load(repo_or_dir='pytorch/vision', "
        "model='resnet50', pretrained=True), <<<api_provider>>>: PyTorch"
    )
    match = check_stop(text, GORILLA_CALL_STOP)
    assert match is not None and match.reason == "call_complete"
    assert text[: match.end].endswith("pretrained=True)")


def test_gorilla_ignores_parentheses_before_the_call_marker() -> None:
    text = "<<<domain>>>: Image (vision), <<<api_call>>>: hub.load('https://tfhub.dev/x'"
    assert check_stop(text, GORILLA_CALL_STOP) is None
    assert check_stop(text + ")", GORILLA_CALL_STOP) == StopMatch(len(text) + 1, "call_complete")


def test_gorilla_falls_back_to_the_provider_marker() -> None:
    text = "<<<api_call>>>: hub.KerasLayer, <<<api_provider>>>: TensorFlow Hub"
    assert check_stop(text, GORILLA_CALL_STOP) == StopMatch(text.index("<<<api_provider>>>"), "stop_string")


def test_new_turn_stops_every_gorilla_policy() -> None:
    text = "<<<explanation>>>: done ###USER: again"
    for policy in (GORILLA_CALL_STOP, GORILLA_FULL_STOP):
        assert check_stop(text, policy) == StopMatch(text.index("###"), "stop_string")


def test_full_policy_keeps_the_explanation() -> None:
    text = "<<<api_call>>>: f(x), <<<api_provider>>>: P, <<<explanation>>>: because"
    assert check_stop(text, GORILLA_FULL_STOP) is None
    assert check_stop(text, NO_STOP) is None


def test_openfunctions_stops_after_the_first_call() -> None:
    text = "get_weather(location='Boston, MA'), get_weather(location='SF')"
    match = check_stop(text, OPENFUNCTIONS_CALL_STOP)
    assert match is not None and text[: match.end] == "get_weather(location='Boston, MA')"


def test_earliest_cut_wins() -> None:
    call_first = "<<<api_call>>>: f(x) ### more"
    assert check_stop(call_first, GORILLA_CALL_STOP) == StopMatch(call_first.index(")") + 1, "call_complete")
    string_first = "<<<api_call>>>: f(x ### y)"
    assert check_stop(string_first, GORILLA_CALL_STOP) == StopMatch(string_first.index("###"), "stop_string")
