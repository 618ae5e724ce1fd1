"""Start-up, the API database (load, watch, reload) and shutdown.

A reload builds a whole new `ApiIndex` on the load worker, beside the live one (completions and checks go on with the
old index meanwhile), and swaps it in one assignment; a database that no longer holds any API is refused (the
previous one keeps serving), and per-record problems are reported, not fatal.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server import configuration, model
from lsp_server.settings import SECTION

if TYPE_CHECKING:
    from index.api_index import ApiIndex
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.lifecycle")


def database_paths(ls: GorillaLanguageServer) -> list[Path]:
    """`apiDatabase` setting, else `--api-db`, else $GORILLA_LSP_API_DB, else the pulled copy."""
    from index.database import default_database_paths

    return default_database_paths(ls.settings.api_database or ls.cli_api_db)


def _load(paths: list[Path], parser: Any = None, encoder: Any = None) -> ApiIndex:
    from index.api_index import ApiIndex

    index = ApiIndex.load(paths, parser, encoder)
    # Built here, not on the first completion: the request router and the repaired, suggestable calls.
    index.router  # noqa: B018
    index.db.unsuggestable  # noqa: B018
    return index


def _hybrid(index: ApiIndex) -> tuple[Any, ApiIndex | None]:
    """The sentence encoder and a hybrid index over the same database (its own thread: the first start embeds
    every record, seconds of work that must not hold up diagnostics)."""
    from index.dense import load_encoder_or_none

    encoder = load_encoder_or_none("hybrid")
    if encoder is None:
        return None, None
    hybrid = index.with_encoder(encoder)
    hybrid.router  # noqa: B018 - the task phrases are embedded here, not on the first completion
    return encoder, hybrid


async def upgrade_to_hybrid(ls: GorillaLanguageServer) -> None:
    """Serve from BM25 at once, then from hybrid retrieval (BM25 + dense) as soon as the encoder is ready."""
    index = ls.index
    if index is None or ls.encoder is not None or not index.db.apis or not ls.settings.retrieval.hybrid:
        return
    try:
        encoder, hybrid = await ls.run(ls.workers.encoder, _hybrid, index)
    except Exception as exc:  # the dense half is an improvement, never a reason to stop serving
        log.warning("dense retrieval unavailable, serving BM25 alone: %s", exc)
        return
    if not ls.settings.retrieval.hybrid:  # turned off while the encoder loaded
        return
    ls.encoder = encoder
    if hybrid is not None and ls.index is index:
        _install(ls, hybrid)
        log.info("hybrid retrieval ready (%d records embedded)", len(hybrid.db.records))
        ls.send_status(message="hybrid retrieval ready (BM25 + sentence encoder)")


def preload(ls: GorillaLanguageServer) -> None:
    """Start loading the database from the command line's paths at once, before the client even says hello."""
    ls.preloaded_paths = database_paths(ls)
    ls.index_loaded = ls.workers.load.submit(_load, ls.preloaded_paths)


def initialize(ls: GorillaLanguageServer, params: types.InitializeParams) -> None:
    """Apply `initializationOptions`; load the database again only if they name other files."""
    from lsp_server.documents import DocumentWorkspace

    ls.protocol._workspace = DocumentWorkspace.replacing(ls.workspace)  # documents that split lines as the LSP does
    ls.settings, ls.pending_problems = configuration.parse(ls.settings, params.initialization_options)
    paths = database_paths(ls)
    if ls.index_loaded is None or paths != ls.preloaded_paths:
        ls.preloaded_paths = paths
        ls.index_loaded = ls.workers.load.submit(_load, paths)


async def initialized(ls: GorillaLanguageServer, params: types.InitializedParams) -> None:
    ls.reload_lock = asyncio.Lock()
    ls.started = True
    for problem in ls.pending_problems:
        ls.show(f"{problem}; using the default instead")
    ls.pending_problems = []
    ls.send_status(state="starting", engine="retrieval", message="loading the API database")
    ls.spawn(_finish_start(ls))


async def _finish_start(ls: GorillaLanguageServer) -> None:
    assert ls.index_loaded is not None
    try:
        index = await asyncio.wrap_future(ls.index_loaded)
    except Exception as exc:  # an unreadable path, a bug in a loader: stay up, say so
        ls.show(f"could not load the API database: {exc}", types.MessageType.Error)
        from index.api_index import ApiIndex
        from index.database import ApiDatabase

        index = ApiIndex(ApiDatabase([], [], [], [], ls.comments.calls))
    _install(ls, index)
    _report_load(ls, index, first=True)
    ls.spawn(upgrade_to_hybrid(ls))
    await model.configure(ls)
    if ls.supports("workspace.did_change_configuration.dynamic_registration") and ls.supports(
        "workspace.configuration"
    ):
        try:
            await ls.client_register_capability_async(types.RegistrationParams(registrations=[types.Registration(
                id="gorilla-configuration", method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                register_options={"section": SECTION},
            )]))
        except Exception as exc:  # optional; a client may refuse
            log.info("didChangeConfiguration registration refused: %s", exc)
    ls.spawn(watch(ls))


async def set_hybrid(ls: GorillaLanguageServer, enabled: bool) -> None:
    """Turn the dense half of retrieval on (in the background) or off (at once, freeing the encoder)."""
    if enabled:
        ls.spawn(upgrade_to_hybrid(ls))
        return
    ls.encoder = None
    index = ls.index
    if index is not None and index.encoder is not None:
        from index.api_index import ApiIndex

        _install(ls, await ls.run(ls.workers.load, ApiIndex, index.db))


def _install(ls: GorillaLanguageServer, index: ApiIndex) -> None:
    from engine.pipeline import CompletionPipeline

    if ls.index is None or ls.index.checker is not index.checker:
        ls.analyses.clear()  # judged against other APIs (the hybrid upgrade keeps the checker and its analyses)
        ls.diagnostic_texts.clear()
    ls.index = index
    ls.pipeline = CompletionPipeline(index, ls.model)
    ls.index_installed.set()


def _report_load(ls: GorillaLanguageServer, index: ApiIndex, first: bool) -> None:
    db = index.db
    errors = [e for e in db.errors if e.severity == "error"]
    if not db.apis:
        where = ", ".join(str(p) for p in db.paths) or "(no path)"
        hint = "run `gorilla-lsp index pull`, or set gorillaLsp.apiDatabase (or --api-db) to API files"
        first_error = f" (first problem: {errors[0]})" if errors else ""
        ls.show(f"no API in the database at {where}{first_error}: {hint}", types.MessageType.Error)
    elif errors:
        ls.show(f"API database {'loaded' if first else 'reloaded'} with {len(db.apis)} APIs; {len(errors)} "
                f"record(s) could not be read (first: {errors[0]})")
    log.info("API database: %d APIs from %d file(s), %d problem(s)", len(db.apis), len(db.files), len(db.errors))
    if not first and ls.status["state"] == "ready":
        ls.send_status(message=f"{len(db.apis)} APIs")


async def reload_database(ls: GorillaLanguageServer, reason: str, paths: list[Path] | None = None) -> dict[str, Any]:
    """Rebuild the index from the files; keep the old one when the new one holds no API at all."""
    if ls.reload_lock is None:
        ls.reload_lock = asyncio.Lock()
    async with ls.reload_lock:
        await ls.get_index()
        paths = paths if paths is not None else database_paths(ls)
        parser = ls.index.db.parser if ls.index is not None else None
        try:
            index = await ls.run(ls.workers.load, _load, paths, parser, ls.encoder)
        except Exception as exc:
            ls.show(f"reloading the API database failed ({exc}); still serving the previous one",
                    types.MessageType.Error)
            return _summary(ls, reloaded=False)
        errors = [str(e) for e in index.db.errors if e.severity == "error"]
        if not index.db.apis and ls.index is not None and ls.index.db.apis:
            first = f" (first problem: {errors[0]})" if errors else ""
            ls.show(f"the API database at {', '.join(map(str, paths))} now holds no loadable API{first}; "
                    f"still serving the previous one ({len(ls.index.db.apis)} APIs)", types.MessageType.Error)
            if ls.index.db.paths == list(paths):
                ls.index.db.fingerprint = index.db.fingerprint  # do not retry the same broken files every poll
            return _summary(ls, reloaded=False, errors=errors)
        _install(ls, index)
        log.info("API database reloaded (%s)", reason)
        _report_load(ls, index, first=False)
        from lsp_server import diagnostics

        diagnostics.refresh_all(ls)
        return _summary(ls, reloaded=True, errors=errors)


def _summary(ls: GorillaLanguageServer, reloaded: bool, errors: list[str] | None = None) -> dict[str, Any]:
    db = ls.index.db if ls.index is not None else None
    return {"reloaded": reloaded, "apis": len(db.apis) if db else 0, "files": list(db.files) if db else [],
            "errors": errors or []}


async def watch(ls: GorillaLanguageServer) -> None:
    """Poll the database files (sizes and times) and reload when they change."""
    while True:
        await asyncio.sleep(ls.watch_seconds)
        index = ls.index
        if index is None or not index.db.paths:
            continue
        try:
            stale = await ls.run(ls.workers.load, index.db.stale)
        except OSError:
            continue
        if stale and ls.index is index:
            await reload_database(ls, reason="files changed")


async def did_change_watched_files(ls: GorillaLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
    index = ls.index
    if index is not None and index.db.stale():
        await reload_database(ls, reason="watched files changed")


def shutdown(ls: GorillaLanguageServer, params: None = None) -> None:
    """Answer at once: timers and background tasks stop, work in flight is told to stop, queued work is dropped."""
    for handle in ls.diagnostic_timers.values():
        handle.cancel()
    for token in ls.completion_tokens.values():
        token.set()
    ls.verification.shutdown()
    for task in list(ls.background):
        task.cancel()
    ls.workers.shutdown()
