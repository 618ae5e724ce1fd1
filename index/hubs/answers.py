"""What is asked of a hub (`Target`) and what it answered (`HubAnswer`)."""

from __future__ import annotations

from typing import Literal

import msgspec

Hub = Literal["huggingface", "torchhub", "tfhub", "kaggle"]
AnswerStatus = Literal["exists", "missing", "unknown"]

HUB_NAMES: dict[str, str] = {
    "huggingface": "Hugging Face",
    "torchhub": "TorchHub",
    "tfhub": "TF Hub",
    "kaggle": "Kaggle Models",
}


class Target(msgspec.Struct, frozen=True):
    """One question for one hub. `key` identifies the network request (and the cache entry): several targets may share
    it, e.g. every entrypoint of one TorchHub repository is answered by one `hubconf.py`."""

    hub: Hub
    key: str
    names: tuple[str, ...]  # HF: repo ids tried in order; TorchHub: ("owner/repo",); TF Hub / Kaggle: (path,)
    ref: str = ""  # TorchHub: the ref written after `owner/repo:`, else "" (main, then master)
    entry: str = ""  # TorchHub: the entrypoint asked for ("" for a whole-repository call like `torch.hub.list`)

    @property
    def shown(self) -> str:
        """The id as a user reads it in a message."""
        if self.hub == "torchhub":
            repo = self.names[0] + (f":{self.ref}" if self.ref else "")
            return f"{repo} {self.entry}".strip()
        return self.names[0]


class HubAnswer(msgspec.Struct, frozen=True, omit_defaults=True):
    """A hub's (or a local cache's) answer about one `Target.key`.

    `unknown` is every answer that says nothing about existence: offline, timeout, rate limit, a server error, a
    private repository without a token. It is never cached on disk.
    """

    status: AnswerStatus
    source: str  # who said so: "Hugging Face", "TorchHub", "torch hub cache", ...
    where: str = ""  # the URL asked, or the local path that was evidence
    detail: str = ""  # "gated", "HTTP 500", "timed out after 5 s", ...
    found: str = ""  # HF: the id that exists (a bare sentence-transformers name resolves to the org's id)
    entrypoints: tuple[str, ...] = ()  # TorchHub: the names the hubconf.py defines
    dynamic: bool = False  # TorchHub: the hubconf.py also builds names at import time
    local: bool = False  # evidence from a cache on this machine, not from the hub

    def entry_status(self, entry: str) -> AnswerStatus:
        """For a TorchHub repository answer: does it have `entry`?"""
        if self.status != "exists" or not entry:
            return self.status
        if entry in self.entrypoints:
            return "exists"
        return "unknown" if self.dynamic else "missing"
