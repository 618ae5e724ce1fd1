"""The Gorilla language server: one `LanguageServer` subclass owning the index, the pipeline and the settings.

Feature handlers live in small modules (completion, diagnostics, hover, actions, ...) and take the server as their
first argument; `create_server` wires them up. All work on the API index (parsing, checking, retrieval) runs on one
worker thread: tree-sitter parsers are not thread-safe, and the event loop stays free to read messages (so a new
keystroke can cancel a completion in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification
from pygls.workspace import TextDocument

from lsp_server import __version__
from lsp_server.comments import CommentFinder
from lsp_server.settings import Settings, SettingProblem
from lsp_server.verification import Verification

if TYPE_CHECKING:
    from engine.pipeline import CandidateSource, CompletionPipeline
    from index.api_index import ApiIndex
    from lsp_server.diagnostics import Analysis

log = logging.getLogger("gorilla_lsp.server")
T = TypeVar("T")

RELOAD_COMMAND = "gorilla.reloadApiDatabase"
INSERT_IMPORT_COMMAND = "gorilla.insertImport"
STATUS_NOTIFICATION = "gorilla/status"


class GorillaProtocol(LanguageServerProtocol):
    """pygls drops a request whose params do not deserialize (a negative position) without answering; answer it."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "jsonrpc" not in data or "id" not in data or "method" not in data:
                raise
            error = JsonRpcInvalidParams(f"invalid params for {data.get('method')}: {exc.__cause__ or exc}")
            self._send_response(data["id"], None, error.to_response_error())
            return JsonRPCNotification(method=str(data["method"]), jsonrpc="answered", params=None)  # then ignored


class GorillaLanguageServer(LanguageServer):
    """Holds everything the handlers share; no state lives in module globals."""

    def __init__(self, cli_api_db: list[str] | None = None) -> None:
        super().__init__("gorilla-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=GorillaProtocol)
        self.cli_api_db = cli_api_db
        self.settings = Settings()
        self.pending_problems: list[SettingProblem] = []
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gorilla-index")
        self.index: ApiIndex | None = None
        self.index_loaded: Future[ApiIndex] | None = None
        self.preloaded_paths: list[Any] | None = None
        self.model: CandidateSource | None = None
        self.encoder: Any = None  # the sentence encoder, once hybrid retrieval is up
        self.pipeline: CompletionPipeline | None = None
        self.comments = CommentFinder()  # used on the worker thread only
        self.analyses: dict[str, Analysis] = {}
        self.verification = Verification()  # hub checks in the background (lsp_server/verification.py)
        self.diagnostic_timers: dict[str, asyncio.TimerHandle] = {}
        self.completion_tokens: dict[str, threading.Event] = {}
        self.model_generation = 0
        self.status: dict[str, Any] = {"state": "starting", "engine": "retrieval", "model": None, "device": None,
                                       "message": None, "progress": None}
        self.reload_lock: asyncio.Lock | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self.debounce_seconds = 0.2
        self.watch_seconds = 2.0

    # --- work off the event loop -----------------------------------------------------------------------------

    async def run_on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run index work on the single worker thread and await it."""
        return await asyncio.wrap_future(self.worker.submit(fn, *args))

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """A background task the server keeps a reference to (so it is not garbage-collected mid-way)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        task.add_done_callback(_log_task_failure)
        return task

    async def get_index(self) -> ApiIndex | None:
        """The current index, waiting for the first load if it is still running."""
        if self.index is None and self.index_loaded is not None:
            try:
                await asyncio.wrap_future(self.index_loaded)
            except Exception:  # reported by the loader task
                return None
        return self.index

    # --- documents -------------------------------------------------------------------------------------------

    def document(self, uri: str) -> TextDocument | None:
        """An open document, or None (requests for documents the client never opened get an empty answer)."""
        if self.protocol._workspace is None:
            return None
        return self.workspace.text_documents.get(unquote(uri))

    @property
    def position_encoding(self) -> str:
        encoding = self.workspace.position_encoding if self.protocol._workspace is not None else None
        return str(getattr(encoding, "value", encoding) or "utf-16")

    # --- messages --------------------------------------------------------------------------------------------

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        level = {types.MessageType.Error: logging.ERROR, types.MessageType.Warning: logging.WARNING}.get(kind, logging.INFO)
        log.log(level, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Gorilla LSP: {message}"))

    def send_status(self, **changes: Any) -> None:
        """Update and send `gorilla/status` (the editor's status bar)."""
        self.status.update(changes)
        self.protocol.notify(STATUS_NOTIFICATION, dict(self.status))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log handler failures; a notification for a document never opened is the client's bug, not a popup."""
        log.error("%s: %s", getattr(source, "__name__", source), error)

    def supports(self, path: str) -> bool:
        """Whether a dotted client capability (e.g. 'window.work_done_progress') is set."""
        node: Any = self.client_capabilities
        for part in path.split("."):
            node = getattr(node, part, None)
            if node is None:
                return False
        return bool(node)


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def create_server(cli_api_db: list[str] | None = None) -> GorillaLanguageServer:
    """A server with every feature registered."""
    from lsp_server import actions, completion, configuration, diagnostics, hover, lifecycle

    server = GorillaLanguageServer(cli_api_db)
    server.feature(types.INITIALIZE)(lifecycle.initialize)
    server.feature(types.INITIALIZED)(lifecycle.initialized)
    server.feature(types.SHUTDOWN)(lifecycle.shutdown)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(configuration.did_change_configuration)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(lifecycle.did_change_watched_files)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(diagnostics.did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(diagnostics.did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(diagnostics.did_close)
    server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))(
        completion.completion
    )
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(
        completion.inline_completion
    )
    server.feature(types.TEXT_DOCUMENT_HOVER)(hover.hover)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )(actions.code_action)

    async def reload_command(*args: Any) -> dict[str, Any]:
        return await lifecycle.reload_database(server, reason="command")

    async def insert_import_command(*args: Any) -> bool:
        return await actions.insert_import(server, *args)

    server.command(RELOAD_COMMAND)(reload_command)
    server.command(INSERT_IMPORT_COMMAND)(insert_import_command)
    return server


def run_server(args: argparse.Namespace) -> int:
    """`gorilla-lsp serve`: stdio by default (stdout carries nothing but the protocol), or `--tcp HOST:PORT`."""
    from lsp_server.lifecycle import preload

    server = create_server(getattr(args, "api_db", None))
    preload(server)
    tcp = getattr(args, "tcp", None)
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            print(f"gorilla-lsp: error: --tcp expects HOST:PORT, got {tcp!r}", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() from any library must not corrupt the protocol stream
    server.start_io(sys.stdin.buffer, protocol_out)
    return 0

