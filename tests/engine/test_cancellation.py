"""Cancel tokens and the latest-request-wins registry."""

from __future__ import annotations

import threading

from engine.cancellation import SupersedingRequests, is_cancelled


def test_cancel_token_kinds() -> None:
    event = threading.Event()
    assert not is_cancelled(event)
    event.set()
    assert is_cancelled(event)
    assert is_cancelled(lambda: True)
    assert not is_cancelled(lambda: False)
    assert not is_cancelled(None)


def test_new_request_supersedes_the_previous_one_for_the_same_key() -> None:
    requests = SupersedingRequests()
    first = requests.start("a.py")
    other = requests.start("b.py")
    second = requests.start("a.py")
    assert first.is_set()
    assert not second.is_set()
    assert not other.is_set()
    requests.finish("a.py", first)  # stale finish does not forget the new one
    assert requests.cancel("a.py")
    assert second.is_set()
    assert not requests.cancel("a.py")


def test_cancel_all() -> None:
    requests = SupersedingRequests()
    events = [requests.start(key) for key in ("a", "b", "c")]
    requests.cancel_all()
    assert all(event.is_set() for event in events)
