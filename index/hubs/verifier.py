"""`HubVerifier`: answers about targets from memory, the persistent cache, local caches, and (when online) the hubs.

`lookup` never touches the network (the editor calls it on every keystroke's analysis); `verify` may, and blocks for
at most one request timeout per hub request. Two threads verifying the same target share one request. Answers without
information (errors) are remembered in memory for `retry_after` seconds, so a hub that is down is not asked again at
every keystroke, and never written to disk.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

from index.hubs import huggingface, torchhub, urlhubs
from index.hubs.answers import HUB_NAMES, HubAnswer, Target
from index.hubs.cache import AnswerCache
from index.hubs.config import HubSettings
from index.hubs.surface import LoaderSurface, TransformersSurface, cached_transformers_surface

log = logging.getLogger(__name__)


class HubVerifier:
    def __init__(
        self, settings: HubSettings, cache: AnswerCache | None = None, retry_after: float = 120.0,
        transformers_extra: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.retry_after = retry_after
        self.requests = 0  # sent to hubs by this verifier
        self._memory: dict[str, tuple[HubAnswer, float]] = {}
        self._inflight: dict[str, Future[HubAnswer]] = {}
        self._lock = threading.Lock()
        self.surface = LoaderSurface(lambda: self._transformers_surface(transformers_extra))

    @classmethod
    def from_environ(cls, online: bool = True, timeout: float = 5.0, **kwargs) -> HubVerifier:
        settings = HubSettings.from_environ(online=online, timeout=timeout)
        cache = AnswerCache.in_dir(settings.cache_dir) if settings.cache_dir is not None else None
        return cls(settings, cache, **kwargs)

    @property
    def online(self) -> bool:
        return self.settings.online

    def _transformers_surface(self, extra: frozenset[str]) -> TransformersSurface | None:
        get = self.cache.get if self.cache is not None else (lambda key: None)
        put = self.cache.put if self.cache is not None else (lambda key, answer: None)
        return cached_transformers_surface(get, put, extra)

    # --- without the network ---------------------------------------------------------------------------------

    def _remembered(self, key: str) -> HubAnswer | None:
        entry = self._memory.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        if self.cache is not None:
            answer = self.cache.get(key)
            if answer is not None:
                return answer
        return None

    def local(self, target: Target) -> HubAnswer | None:
        """Evidence on this machine: the Hugging Face cache, the torch hub cache."""
        if target.hub == "huggingface":
            return huggingface.local_answer(self.settings, target.names)
        if target.hub == "torchhub":
            return torchhub.local_answer(self.settings, target.names[0], target.ref)
        return None

    def lookup(self, target: Target) -> HubAnswer | None:
        """What is known without asking a hub; None only when a hub may be asked and has not been yet."""
        answer = self._remembered(target.key)
        if answer is not None:
            return answer
        local = self.local(target)
        if local is not None and local.entry_status(target.entry) == "exists":
            return local
        if self.settings.asks(target.hub):
            return None
        if local is not None:
            return local  # offline: the local cache is the best evidence there is, negative included
        reason = "HF_HUB_OFFLINE is set" if self.settings.online else "offline"
        return HubAnswer("unknown", HUB_NAMES[target.hub], detail=reason)

    # --- with the network ------------------------------------------------------------------------------------

    def verify(self, target: Target) -> HubAnswer:
        """The answer for `target`, asking its hub if need be (blocking; at most one request per key at a time)."""
        answer = self.lookup(target)
        if answer is not None:
            return answer
        with self._lock:
            future = self._inflight.get(target.key)
            owner = future is None
            if owner:
                future = self._inflight[target.key] = Future()
        assert future is not None
        if not owner:
            return future.result()
        try:
            answer = self._ask(target)
            future.set_result(answer)
            return answer
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._inflight.pop(target.key, None)

    def _ask(self, target: Target) -> HubAnswer:
        settings = self.settings
        try:
            if target.hub == "huggingface":
                answer, sent = huggingface.remote_answer(settings, target.names)
            elif target.hub == "torchhub":
                answer, sent = torchhub.remote_answer(settings, target.names[0], target.ref)
            else:
                answer, sent = urlhubs.remote_answer(settings, target.hub, target.names[0])
        except Exception as exc:  # a bug in a client must not take the caller down
            log.exception("verifying %s failed", target.key)
            answer, sent = HubAnswer("unknown", HUB_NAMES[target.hub], detail=f"internal error: {exc}"), 0
        with self._lock:
            self.requests += sent
        if answer.status == "unknown":
            local = self.local(target)
            if local is not None:
                answer = local  # the hub did not answer: what this machine has is better than nothing
            self._memory[target.key] = (answer, time.monotonic() + self.retry_after)
        else:
            self._memory[target.key] = (answer, time.monotonic() + 3600.0)
            if self.cache is not None:
                self.cache.put(target.key, answer)
        log.debug("%s -> %s (%s %s)", target.key, answer.status, answer.source, answer.detail)
        return answer
