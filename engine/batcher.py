"""Batching requests that arrive together: one CTranslate2 batch instead of one decode after another.

Several open editors (or a completion and an inline completion for the same keystroke) ask at the same time; a
GPU decodes a batch of 8 nearly as fast as one request. The first request waits at most `window_s` for others,
then every waiting request with the same candidate count is decoded in one `generate_batch` call; each keeps its
own cancel token, so a superseded request stops decoding without stopping the others.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from engine.cancellation import CancelToken, is_cancelled
from engine.generator import GorillaGenerator

log = logging.getLogger(__name__)


class _Pending:
    def __init__(self, prompt: str, n: int, cancel: CancelToken | None) -> None:
        self.prompt = prompt
        self.n = n
        self.cancel = cancel
        self.done = threading.Event()
        self.texts: list[str] = []
        self.error: BaseException | None = None


class RequestBatcher:
    """Decodes concurrent `candidates` calls together; `batch_sizes` records what each decode held."""

    def __init__(self, generator: GorillaGenerator, window_s: float = 0.005, max_batch: int = 8) -> None:
        self.generator = generator
        self.window_s = window_s
        self.max_batch = max_batch
        self.batch_sizes: list[int] = []
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="gorilla-batcher", daemon=True)
        self._worker.start()

    def candidates(
        self, request: str, documents: Sequence[Mapping[str, Any]], n: int, cancelled: CancelToken | None = None
    ) -> list[str]:
        """Blocks until this request's candidates are decoded (or it is cancelled: then an empty list)."""
        pending = _Pending(self.generator.build_prompt(request, documents), n, cancelled)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.texts

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        batch = [first]
        stop = False
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get(timeout=self.window_s)
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            by_n: dict[int, list[_Pending]] = {}
            for item in batch:
                if is_cancelled(item.cancel):
                    item.done.set()
                else:
                    by_n.setdefault(item.n, []).append(item)
            for n, group in by_n.items():
                self._decode(n, group)
            if stop:
                return

    def _decode(self, n: int, group: list[_Pending]) -> None:
        self.batch_sizes.append(len(group))
        try:
            results = self.generator.generate_batch(
                [p.prompt for p in group], self.generator.candidate_options(n), [p.cancel for p in group]
            )
            for pending, result in zip(group, results, strict=True):
                pending.texts = [c.text for c in result.candidates if c.finish_reason != "cancelled"]
        except BaseException as exc:  # delivered to every caller of the batch
            log.warning("batched generation failed: %s", exc)
            for pending in group:
                pending.error = exc
        finally:
            for pending in group:
                pending.done.set()
