"""Background hub verification: the editor never waits on the network.

Diagnostics are published at once from what is already known (the database, the answers cache, this machine's model
caches); ids that only a hub can settle are verified here, on a small pool of threads (each request with its own
timeout, one request per id however many documents ask), and each document that asked is re-judged and republished
when its answers arrive. Closing a document drops its pending checks.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import msgspec

if TYPE_CHECKING:
    from index.checker import HubCheck
    from index.hubs import HubVerifier, Target
    from lsp_server.analysis import Analysis
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.verification")


def _folder_of(uri: str) -> Path | None:
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path)).parent


class Verification:
    """Owned by the server; all its bookkeeping runs on the event loop, the requests on its own threads."""

    def __init__(self, workers: int = 4) -> None:
        self.workers = workers
        self.verifier: HubVerifier | None = None
        self._online = True
        self._closed = False
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[str, Future[object]] = {}
        self._waiting: dict[str, set[str]] = {}  # target key -> documents waiting for it
        self._asked: dict[str, set[str]] = {}  # document -> target keys it waits for
        self.generation = 0  # bumped when documents must be judged again (setting changed, transformers' names read)

    def hubs(self, ls: GorillaLanguageServer, uri: str) -> HubCheck:
        """What `findings` needs to judge a document: the verifier (lookups only) and where relative ids may be."""
        from index.checker import HubCheck
        from index.hubs import HubVerifier

        online = ls.settings.verification.online
        if self.verifier is None or self._online != online:
            self.verifier = HubVerifier.from_environ(online=online)  # GORILLA_LSP_OFFLINE=1 still wins
            self._online = online
            self._load_surface(ls, self.verifier)
        folders = [f for f in (_folder_of(uri),) if f is not None]
        if ls.protocol._workspace is not None:
            folders += [Path(unquote(urlsplit(f.uri).path)) for f in ls.workspace.folders.values()]
        return HubCheck(self.verifier, folders, wait_surface=False)

    def _load_surface(self, ls: GorillaLanguageServer, verifier: HubVerifier) -> None:
        """Read transformers' names in the background (a child process the first time, then the cache); documents
        are judged again once they are known."""
        loop = asyncio.get_running_loop()

        def loaded(future: Future[object]) -> None:
            _call_soon(loop, self._surface_ready, ls, verifier)

        pool = self._threads()
        if pool is not None:
            pool.submit(verifier.surface.transformers).add_done_callback(loaded)

    def _surface_ready(self, ls: GorillaLanguageServer, verifier: HubVerifier) -> None:
        from lsp_server import diagnostics

        if verifier is self.verifier:
            self.invalidate(ls)
            diagnostics.refresh_all(ls)

    def invalidate(self, ls: GorillaLanguageServer) -> None:
        """Every document is judged again: analyses made before, and checks running now, are not used."""
        self.generation += 1
        ls.analyses.clear()

    def _threads(self) -> ThreadPoolExecutor | None:
        if self._closed:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gorilla-verify")
        return self._pool

    def request(self, ls: GorillaLanguageServer, uri: str, analysis: Analysis) -> None:
        """Verify the document's pending ids in the background (event loop)."""
        verifier = self.verifier
        if verifier is None or not verifier.online:
            return
        targets = {j.finding.verdict.target.key: j.finding.verdict.target for j in analysis.judged
                   if j.finding.verdict.pending and j.finding.verdict.target is not None}
        if not targets:
            return
        loop = asyncio.get_running_loop()
        pool = self._threads()
        if pool is None:
            return
        for key, target in targets.items():
            self._waiting.setdefault(key, set()).add(uri)
            self._asked.setdefault(uri, set()).add(key)
            if key in self._inflight:
                continue
            future = pool.submit(verifier.verify, target)
            self._inflight[key] = future
            future.add_done_callback(lambda f, key=key: _call_soon(loop, self._answered, ls, key, f))

    def _answered(self, ls: GorillaLanguageServer, key: str, future: Future[object]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.cancelled() and future.exception() is not None:
            log.warning("verifying %s failed: %s", key, future.exception())
        for uri in self._waiting.pop(key, set()):
            keys = self._asked.get(uri)
            if keys is not None:
                keys.discard(key)
            ls.spawn(self._republish(ls, uri))

    async def _republish(self, ls: GorillaLanguageServer, uri: str) -> None:
        from lsp_server import diagnostics

        analysis = ls.analyses.get(uri)
        verifier = self.verifier
        if analysis is None or verifier is None:
            return
        try:
            updated = await ls.run(ls.workers.check, rejudge, analysis, verifier)
        except RuntimeError:  # the worker has shut down: the server is exiting
            return
        if ls.analyses.get(uri) is analysis:  # not edited (nor closed) meanwhile
            ls.analyses[uri] = updated
            diagnostics.schedule(ls, uri, 0.05)  # answers arriving together are published together

    def forget(self, uri: str) -> None:
        """The document closed: nobody waits for its ids any more; requests not yet started are dropped."""
        for key in self._asked.pop(uri, set()):
            waiting = self._waiting.get(key)
            if waiting is None:
                continue
            waiting.discard(uri)
            if not waiting:
                del self._waiting[key]
                future = self._inflight.get(key)
                if future is not None and future.cancel():
                    del self._inflight[key]

    def pending(self) -> int:
        return len(self._inflight)

    def shutdown(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, callback, *args: object) -> None:  # noqa: ANN001
    """Hand a pool thread's result to the event loop, unless the server has stopped meanwhile."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: the server is exiting
        pass


def rejudge(analysis: Analysis, verifier: HubVerifier) -> Analysis:
    """The analysis with its pending findings judged again from the verifier's answers (check worker)."""
    from lsp_server.analysis import settled

    if analysis.lines is None:
        return analysis
    judged = settled(analysis.judged, analysis.index.checker, verifier, analysis.lines, analysis.source,
                     analysis.encoding)  # type: ignore[arg-type]
    return analysis if judged is analysis.judged else msgspec.structs.replace(analysis, judged=judged)
