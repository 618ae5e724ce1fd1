"""Cancelling generation: cancel tokens and "latest request wins" bookkeeping.

Why: an editor sends a new completion request on every keystroke; the previous one is
superseded and must stop decoding at once instead of occupying the model. The generator
checks a cancel token before accepting every generated token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

CancelToken = threading.Event | Callable[[], bool]
"""Either an event (cancelled once set) or a callable returning True once cancelled."""


def is_cancelled(token: CancelToken | None) -> bool:
    """Whether ``token`` says stop; None never cancels."""
    if token is None:
        return False
    if isinstance(token, threading.Event):
        return token.is_set()
    return bool(token())


class SupersedingRequests:
    """Hands out one cancel event per key; starting a new request cancels the previous one.

    Typical key: the document URI (one pending completion per document).
    Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[Hashable, threading.Event] = {}

    def start(self, key: Hashable) -> threading.Event:
        """Cancel the request running under ``key`` (if any) and return the new one's event."""
        event = threading.Event()
        with self._lock:
            previous = self._current.get(key)
            self._current[key] = event
        if previous is not None:
            previous.set()
        return event

    def finish(self, key: Hashable, event: threading.Event) -> None:
        """Forget ``event`` if it is still the current one for ``key``."""
        with self._lock:
            if self._current.get(key) is event:
                del self._current[key]

    def cancel(self, key: Hashable) -> bool:
        """Cancel the request running under ``key``; returns whether there was one."""
        with self._lock:
            event = self._current.pop(key, None)
        if event is None:
            return False
        event.set()
        return True

    def cancel_all(self) -> None:
        """Cancel every running request (e.g. at shutdown)."""
        with self._lock:
            events = list(self._current.values())
            self._current.clear()
        for event in events:
            event.set()
