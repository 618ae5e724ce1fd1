"""Checkpoints where long work stops once its result is no longer wanted (a superseded or cancelled request).

The lowest layer owns the exception so retrieval, checking and the engine raise the same one, and the server answers
every one of them with RequestCancelled.
"""

from __future__ import annotations

from collections.abc import Callable


class Cancelled(Exception):
    """The work stopped at a checkpoint: whoever asked for it no longer wants the answer."""


def checkpoint(cancelled: Callable[[], bool] | None) -> None:
    """Raise `Cancelled` if `cancelled()` says so (None never cancels)."""
    if cancelled is not None and cancelled():
        raise Cancelled
