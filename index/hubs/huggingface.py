"""Hugging Face Hub: `HfApi(endpoint).model_info(repo_id)`, i.e. `GET {HF_ENDPOINT}/api/models/{repo_id}`.

200 or a gated repository: it exists. `RepositoryNotFoundError`: it does not (the Hub answers the same for a private
repository asked without a token, so the message says so). Anything else says nothing about existence.
"""

from __future__ import annotations

import logging
from pathlib import Path

from index.hubs.answers import HubAnswer
from index.hubs.config import HubSettings
from index.hubs.http import USER_AGENT

log = logging.getLogger(__name__)
SOURCE = "Hugging Face"


def cache_dir_name(repo_id: str) -> str:
    """`google/vit-base` -> `models--google--vit-base`, as huggingface_hub lays out its cache."""
    return "models--" + repo_id.replace("/", "--")


def local_answer(settings: HubSettings, names: tuple[str, ...]) -> HubAnswer | None:
    """A model already in the Hugging Face cache on this machine exists."""
    if settings.hf_hub_cache is None:
        return None
    for name in names:
        folder: Path = settings.hf_hub_cache / cache_dir_name(name)
        try:
            if (folder / "snapshots").is_dir() or (folder / "refs").is_dir():
                return HubAnswer("exists", "Hugging Face cache", str(folder), found=name, local=True)
        except OSError:
            continue
    return None


def _one(settings: HubSettings, repo_id: str) -> HubAnswer:
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import (
        DisabledRepoError, GatedRepoError, HfHubHTTPError, HFValidationError, RepositoryNotFoundError,
    )

    # Only the model id may leave the machine: no telemetry in the User-Agent, and none of the extra requests
    # huggingface_hub makes to fill it in (it fetches an "agent harnesses" registry from the endpoint).
    constants.HF_HUB_DISABLE_TELEMETRY = True
    url = f"{settings.hf_endpoint}/api/models/{repo_id}"
    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_token or None, library_name="gorilla-lsp",
                library_version=USER_AGENT.split("/", 1)[1].split(" ", 1)[0])
    try:
        api.model_info(repo_id, timeout=settings.timeout)
    except GatedRepoError:  # a subclass of RepositoryNotFoundError: test it first
        return HubAnswer("exists", SOURCE, url, "gated", found=repo_id)
    except RepositoryNotFoundError:
        detail = "" if settings.hf_token else "if it is private, set HF_TOKEN"  # the Hub answers both alike
        return HubAnswer("missing", SOURCE, url, detail)
    except HFValidationError as exc:
        return HubAnswer("missing", SOURCE, url, f"not a valid model id ({str(exc).splitlines()[0]})")
    except DisabledRepoError:
        return HubAnswer("unknown", SOURCE, url, "the repository is disabled")
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        reason = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}" if status else str(exc)[:80]
        return HubAnswer("unknown", SOURCE, url, reason)
    except Exception as exc:  # timeouts, refused connections, offline mode, proxies: no answer
        return HubAnswer("unknown", SOURCE, url, _network_reason(exc, settings.timeout))
    return HubAnswer("exists", SOURCE, url, found=repo_id)


def _network_reason(exc: Exception, timeout: float) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return f"timed out after {timeout:g} s"
    if "Connect" in name and "refused" in str(exc).lower():
        return "connection refused"
    if "Offline" in name:
        return "HF_HUB_OFFLINE is set"
    text = str(exc).splitlines()[0] if str(exc) else name
    return text[:120]


def remote_answer(settings: HubSettings, names: tuple[str, ...]) -> tuple[HubAnswer, int]:
    """Ask the Hub about each name in turn until one exists; also returns how many requests were sent."""
    answer = HubAnswer("unknown", SOURCE)
    sent = 0
    for name in names:
        sent += 1
        answer = _one(settings, name)
        if answer.status != "missing":
            return answer, sent
    return answer, sent
