"""The model: loaded in the background when `gorillaLsp.model.path` is set, reported as progress and `gorilla/status`.

Retrieval answers until the model is ready; a load that fails leaves the server retrieval-only and says why. The
loader is one function (`engine.model_source.load_model_source`), imported lazily so that a missing or broken
engine is a model error, not a server crash. `GORILLA_LSP_MODEL_LOADER=module:function` names another loader (tests).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server.settings import ModelSettings

if TYPE_CHECKING:
    from engine.pipeline import CandidateSource
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.model")

DEFAULT_LOADER = "engine.model_source:load_model_source"


class ModelUnavailable(Exception):
    """The loader itself cannot be imported."""


def loader() -> Callable[[str, str, str, str], CandidateSource]:
    spec = os.environ.get("GORILLA_LSP_MODEL_LOADER") or DEFAULT_LOADER
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr or "load_model_source")
    except (ImportError, AttributeError) as exc:
        raise ModelUnavailable(f"the model engine is not available ({module_name}: {exc})") from exc


def load(settings: ModelSettings) -> CandidateSource:
    """Blocking: resolve the loader and load the model (runs on a thread of its own)."""
    assert settings.path is not None
    return loader()(settings.path, settings.device, settings.compute_type, settings.template)


async def configure(ls: GorillaLanguageServer) -> None:
    """Load (or drop) the model the settings name; a newer call supersedes an older one still loading."""
    from engine.pipeline import CompletionPipeline

    ls.model_generation += 1
    generation = ls.model_generation
    settings = ls.settings.model
    apis = len(ls.index.db.apis) if ls.index is not None else 0
    if not settings.path:
        _release(ls)
        if ls.index is not None:
            ls.pipeline = CompletionPipeline(ls.index, None)
        ls.send_status(state="ready", engine="retrieval", model=None, device=None, message=f"{apis} APIs",
                       progress=None)
        return
    token = await _begin_progress(ls, settings.path)
    ls.send_status(state="loading", engine="ctranslate2", model=settings.path, device=settings.device,
                   message=f"loading {settings.path} (answering from retrieval meanwhile)", progress=None)
    try:
        source = await asyncio.get_running_loop().run_in_executor(None, load, settings)
    except Exception as exc:  # ModelLoadError and friends, ImportError, anything the engine raises
        if generation != ls.model_generation:
            return
        message = str(exc) or type(exc).__name__
        log.error("model load failed: %s", message, exc_info=not _expected(exc))
        _release(ls)
        if ls.index is not None:
            ls.pipeline = CompletionPipeline(ls.index, None)
        _end_progress(ls, token, f"failed: {message}")
        ls.show(f"could not load the model at {settings.path}: {message}. Using retrieval only.",
                types.MessageType.Error)
        ls.send_status(state="error", engine="retrieval", model=settings.path, device=None, message=message,
                       progress=None)
        return
    if generation != ls.model_generation:
        _close(ls, source)  # superseded while it loaded
        return
    _release(ls)
    ls.model = source
    if ls.index is not None:
        ls.pipeline = CompletionPipeline(ls.index, source)
    info = _info(source)
    _end_progress(ls, token, "ready")
    ls.send_status(state="ready", engine="ctranslate2", model=info.get("model") or settings.path,
                   device=info.get("device") or settings.device, message=f"{apis} APIs", progress=100)


def _release(ls: GorillaLanguageServer) -> None:
    """Drop the current model and free its memory (GPU memory too)."""
    previous, ls.model = ls.model, None
    if previous is not None:
        _close(ls, previous)


def _close(ls: GorillaLanguageServer, source: Any) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        # Generation runs on the completion thread: closing there waits for a request still using the model.
        ls.workers.complete.submit(close)


def _expected(exc: Exception) -> bool:
    try:
        from engine.errors import EngineError
    except ImportError:
        return isinstance(exc, ModelUnavailable)
    return isinstance(exc, (EngineError, ModelUnavailable))


def _info(source: Any) -> dict[str, Any]:
    try:
        info = source.info()
        return {"model": getattr(info, "model", None), "device": getattr(info, "device", None)}
    except Exception:
        return {}


async def _begin_progress(ls: GorillaLanguageServer, path: str) -> str | None:
    if not ls.supports("window.work_done_progress"):
        return None
    token = f"gorilla-model-{ls.model_generation}"
    try:
        await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
    except Exception as exc:
        log.info("work done progress refused: %s", exc)
        return None
    ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(
        title="Gorilla: loading model", message=path, cancellable=False,
    ))
    return token


def _end_progress(ls: GorillaLanguageServer, token: str | None, message: str) -> None:
    if token is not None:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
