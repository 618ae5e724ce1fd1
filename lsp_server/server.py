"""The Gorilla language server: one `LanguageServer` subclass owning the index, the pipeline and the settings.

Feature handlers live in small modules (completion, diagnostics, hover, actions, ...) and take the server as their
first argument; `create_server` wires them up. Index work runs on worker threads, one pool per kind of work
(`Workers`), so a completion never queues behind another document's check or a database reload, and the event loop
stays free to read messages (so a new keystroke can cancel the work in flight). Messages are read by
`lsp_server.transport` instead of pygls' reader, and the process ends with the exit code the LSP asks for as soon as
`exit` arrives, whatever is still running in the background.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

import msgspec
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcRequestCancelled
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification
from pygls.protocol.language_server import lsp_method

from index.cancel import Cancelled
from lsp_server import __version__
from lsp_server.comments import CommentFinder
from lsp_server.documents import Document
from lsp_server.settings import Settings, SettingProblem
from lsp_server.transport import Body, Broken, Event, FrameDecoder, Skipped, parse_message
from lsp_server.verification import Verification

if TYPE_CHECKING:
    from engine.pipeline import CandidateSource, CompletionPipeline
    from index.api_index import ApiIndex
    from lsp_server.analysis import Analysis

log = logging.getLogger("gorilla_lsp.server")
T = TypeVar("T")

RELOAD_COMMAND = "gorilla.reloadApiDatabase"
INSERT_IMPORT_COMMAND = "gorilla.insertImport"
STATUS_NOTIFICATION = "gorilla/status"

EXIT_OK = 0
EXIT_WITHOUT_SHUTDOWN = 1  # `exit` (or the end of the input) before `shutdown`, as the LSP specifies
EXIT_BROKEN_STREAM = 3  # the input cannot be read as LSP messages any more
STALL_SECONDS = 0.5  # no byte for this long in the middle of a message: see `FrameDecoder.stalled`
_ANSWERED = "answered"  # marks a message already answered with an error while it was being read


class GorillaProtocol(LanguageServerProtocol):
    """pygls' protocol, with the answers it leaves out: invalid params, requests after `shutdown`, cancellations."""

    _server: GorillaLanguageServer

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls drops a request whose params do not deserialize (a negative position) without answering; answer."""
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "jsonrpc" not in data or "id" not in data or "method" not in data:
                raise
            error = JsonRpcInvalidParams(f"invalid params for {data.get('method')}: {exc.__cause__ or exc}")
            self._send_response(data["id"], None, error.to_response_error())
            return JsonRPCNotification(method=str(data["method"]), jsonrpc=_ANSWERED, params=None)

    def handle_message(self, message: Any) -> None:
        if message.jsonrpc == _ANSWERED:
            return
        method = getattr(message, "method", None)
        if self._shutdown and method != types.EXIT:
            if method is not None and hasattr(message, "id"):
                error = JsonRpcInvalidRequest(f"the server is shutting down: {method} refused (only `exit` is left)")
                self._send_response(message.id, None, error.to_response_error())
            else:
                log.debug("after shutdown: ignored %s", method or "a response")
            return
        super().handle_message(message)

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        """A superseded or cancelled request is answered RequestCancelled and logged at debug level: 5,000 pipelined
        completions are not 5,000 error tracebacks."""
        if not future.cancelled():
            error = future.exception()
            if isinstance(error, (JsonRpcRequestCancelled, Cancelled)):
                self._request_futures.pop(msg_id, None)
                log.debug("request %s cancelled: %s", msg_id, error or "superseded")
                reason = JsonRpcRequestCancelled(str(error) or f"request {msg_id} was cancelled")
                self._send_response(msg_id, error=reason.to_response_error())
                return
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("request %s cancelled by the client", msg_id)
        super()._send_handler_result(future, msg_id=msg_id)

    def send_json(self, message: dict[str, Any]) -> None:
        """Send a message already in JSON shape: no cattrs conversion, and msgspec's encoder (1,000 diagnostics take
        2 ms, not the 11 ms of `json.dumps` after the conversion)."""
        if self.writer is None:
            return
        try:
            body = msgspec.json.encode(message)
        except UnicodeEncodeError:  # a lone surrogate from the editor's text: JSON can carry it escaped
            body = json.dumps(message).encode("ascii")
        if self._include_headers:
            body = b"Content-Length: %d\r\n\r\n" % len(body) + body
        try:
            result = self.writer.write(body)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)
        except BrokenPipeError:
            log.error("the client closed the connection: %s not sent", message.get("method", "an answer"))

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        future = self._request_futures.pop(msg_id, None)
        if future is None:
            log.debug("$/cancelRequest for %r, which is not running", msg_id)
            return
        future.cancel()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        """Stop reading and end the process: 0 after `shutdown`, 1 without (the LSP's exit codes)."""
        self._server.stop(EXIT_OK if self._shutdown else EXIT_WITHOUT_SHUTDOWN)


class Workers:
    """One thread pool per kind of index work, so no kind waits behind another.

    tree-sitter parsers are per thread (`index.calls.PythonCalls.parser`), so any thread may parse. `check` has two
    threads: a hover in a small file need not wait for a 5 MB file's check. `load` builds databases beside the live
    index; `encoder` loads the sentence encoder and embeds the records (seconds, and optional).
    """

    def __init__(self) -> None:
        self.check = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gorilla-check")
        self.complete = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gorilla-complete")
        self.load = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gorilla-load")
        self.encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gorilla-encoder")

    def shutdown(self) -> None:
        """Queued work is dropped; running work ends at its next checkpoint or with the process."""
        for pool in (self.check, self.complete, self.load, self.encoder):
            pool.shutdown(wait=False, cancel_futures=True)


class GorillaLanguageServer(LanguageServer):
    """Holds everything the handlers share; no state lives in module globals."""

    def __init__(self, cli_api_db: list[str] | None = None) -> None:
        super().__init__("gorilla-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=GorillaProtocol)
        self.cli_api_db = cli_api_db
        self.settings = Settings()
        self.pending_problems: list[SettingProblem] = []
        self.workers = Workers()
        self.index: ApiIndex | None = None
        self.index_loaded: Future[ApiIndex] | None = None
        self.index_installed = asyncio.Event()  # set once `index` and `pipeline` serve (see lifecycle._install)
        self.started = False  # `initialized` arrived: the start-up task runs
        self.preloaded_paths: list[Any] | None = None
        self.model: CandidateSource | None = None
        self.encoder: Any = None  # the sentence encoder, once hybrid retrieval is up
        self.pipeline: CompletionPipeline | None = None
        self.comments = CommentFinder()  # its parser is per thread
        self.analyses: dict[str, Analysis] = {}
        self.verification = Verification()  # hub checks in the background (lsp_server/verification.py)
        self.checking: dict[str, tuple[Any, asyncio.Future[Analysis]]] = {}
        self.diagnostic_texts: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
        self.diagnostic_timers: dict[str, asyncio.TimerHandle] = {}
        self.completion_tokens: dict[str, threading.Event] = {}
        self.model_generation = 0
        self.status: dict[str, Any] = {"state": "starting", "engine": "retrieval", "model": None, "device": None,
                                       "message": None, "progress": None}
        self.reload_lock: asyncio.Lock | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self.debounce_seconds = 0.2
        self.watch_seconds = 2.0
        self.exit_code: int | None = None
        self._events: asyncio.Queue[Event | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- work off the event loop -----------------------------------------------------------------------------

    async def run(self, pool: Executor, fn: Callable[..., T], *args: Any) -> T:
        """Run index work on one of `self.workers`' pools and await it."""
        return await asyncio.wrap_future(pool.submit(fn, *args))

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """A background task the server keeps a reference to (so it is not garbage-collected mid-way)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        task.add_done_callback(_log_task_failure)
        return task

    async def get_index(self) -> ApiIndex | None:
        """The current index, waiting for the first load if it is still running (and for it to be installed: a
        request right after `initialized` must not find the database loaded but not yet serving)."""
        if self.index is None and self.index_loaded is not None:
            try:
                await asyncio.wrap_future(self.index_loaded)
            except Exception:  # reported by the start-up task, which installs an empty index
                pass
            if self.started:  # the start-up task installs the index (an empty one if loading failed)
                await self.index_installed.wait()
        return self.index

    # --- documents -------------------------------------------------------------------------------------------

    def document(self, uri: str) -> Document | None:
        """An open document, or None (requests for documents the client never opened get an empty answer)."""
        if self.protocol._workspace is None:
            return None
        doc = self.workspace.text_documents.get(unquote(uri))
        return doc if isinstance(doc, Document) else None

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

    # --- the message loop ------------------------------------------------------------------------------------

    def stop(self, code: int) -> None:
        """End the message loop; the process exits with `code`."""
        if self.exit_code is None:
            self.exit_code = code
        if self._stop_event is not None:
            self._stop_event.set()
        if self._events is not None:
            self._events.put_nowait(None)

    def _deliver(self, event: Event | None) -> bool:
        """Hand an event from a reader thread to the loop; False once the loop is gone."""
        loop, events = self._loop, self._events
        if loop is None or events is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:
            return False
        return True

    def _receive(self, body: bytes) -> None:
        message, errors = parse_message(body)
        for error in errors:
            log.warning("invalid message (%s): %s", error["error"]["message"], body[:200])
            self.protocol._send_data(error)
        if message is None:
            return
        try:
            structured = self.protocol.structure_message(message)
        except JsonRpcException as exc:
            log.warning("dropped %s: its params do not fit the method (%s)", message.get("method", "a message"),
                        exc.__cause__ or exc)
            return
        try:
            self.protocol.handle_message(structured)
        except Exception:  # a bug in a handler must not end the loop
            log.exception("handling %s failed", message.get("method", "a response"))

    async def _dispatch(self) -> None:
        assert self._events is not None
        while self.exit_code is None:
            event = await self._events.get()
            if event is None:
                break
            if isinstance(event, Body):
                self._receive(event.data)
            elif isinstance(event, Skipped):
                log.warning("protocol: %s", event.reason)
            elif isinstance(event, Broken):
                log.error("protocol: %s; the input cannot be followed any more, exiting", event.reason)
                self.stop(EXIT_BROKEN_STREAM)

    def _read_stdio(self, stream: IO[bytes]) -> None:
        """The reader thread: bytes from stdin through a `FrameDecoder` to the loop."""
        try:
            self._read_frames(stream)
        except Exception as exc:  # a bug here would leave the client waiting forever: end the process instead
            log.exception("reading the client's messages failed")
            self._deliver(Broken(f"the reader failed: {exc!r}"))

    def _read_frames(self, stream: IO[bytes]) -> None:
        decoder = FrameDecoder()
        try:
            fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        read1 = getattr(stream, "read1", stream.read)
        while True:
            try:
                if fd is not None and decoder.reading_body and not _readable(fd, STALL_SECONDS):
                    events: list[Event] = decoder.stalled()
                    if all(self._deliver(e) for e in events):
                        continue
                    return
                data = os.read(fd, 1 << 16) if fd is not None else read1(1 << 16)
            except OSError as exc:
                log.error("reading the client's messages failed: %s", exc)
                data = b""
            if not _take(decoder, data, self._deliver):
                return

    async def _serve_stdio(self, stdin: IO[bytes]) -> None:
        self._loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        threading.Thread(target=self._read_stdio, args=(stdin,), name="gorilla-stdin", daemon=True).start()
        await self._dispatch()

    def start_io(  # type: ignore[override]
        self, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None
    ) -> int:
        """Serve over stdio until `exit` or the end of the input; the exit code."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        return self._run_loop(self._serve_stdio(stdin or sys.stdin.buffer))

    def start_tcp(self, host: str, port: int) -> int:  # type: ignore[override]
        """Serve the first client that connects to HOST:PORT, as pygls does; the exit code."""
        self._stop_event = threading.Event()

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._events = asyncio.Queue()
            connected = asyncio.Event()

            async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if connected.is_set():
                    writer.close()
                    return
                connected.set()
                self.protocol.set_writer(writer)  # type: ignore[arg-type]
                try:
                    await _read_stream(reader, self._deliver)
                except Exception as exc:  # as on stdio: end the process rather than leave the client waiting
                    log.exception("reading the client's messages failed")
                    self._deliver(Broken(f"the reader failed: {exc!r}"))

            server = await asyncio.start_server(connection, host, port)
            log.info("serving on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
            async with server:
                await self._dispatch()

        return self._run_loop(serve())

    def _run_loop(self, main: Any) -> int:
        # Not asyncio.run: its clean-up waits for every thread of the default executor (an encoder still loading
        # kept `exit` waiting 10 s). The process ends right after this returns.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main)
        except BrokenPipeError:
            log.error("the client closed the connection; shutting down")
        except KeyboardInterrupt:
            pass
        if self.exit_code is None:  # the input ended without `exit`
            self.exit_code = EXIT_OK if self.protocol._shutdown else EXIT_WITHOUT_SHUTDOWN
        self.workers.shutdown()
        return self.exit_code


def _readable(fd: int, timeout: float) -> bool:
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except (OSError, ValueError):  # not selectable (Windows pipes): wait in read()
        return True
    return bool(ready)


def _take(decoder: FrameDecoder, data: bytes, deliver: Callable[[Event | None], bool]) -> bool:
    """Hand what was read (b"": the input ended) through the decoder to the loop; False: stop reading (the input
    ended or broke, or the loop is gone)."""
    if not data:
        for event in decoder.stalled():
            deliver(event)
        deliver(None)
        return False
    for event in decoder.feed(data):
        if not deliver(event) or isinstance(event, Broken):
            return False
    return True


async def _read_stream(reader: asyncio.StreamReader, deliver: Callable[[Event | None], bool]) -> None:
    decoder = FrameDecoder()
    while True:
        try:
            timeout = STALL_SECONDS if decoder.reading_body else None
            data = await asyncio.wait_for(reader.read(1 << 16), timeout)
        except asyncio.TimeoutError:
            for event in decoder.stalled():
                deliver(event)
            continue
        except (ConnectionError, OSError):
            data = b""
        if not _take(decoder, data, deliver):
            return


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
    """`gorilla-lsp serve`: stdio by default (stdout carries nothing but the protocol), or `--tcp HOST:PORT`.

    The process ends here, at once: work still running in a thread (a model or an encoder loading) is not waited
    for, since nobody will read its result.
    """
    from lsp_server.lifecycle import preload

    tcp = getattr(args, "tcp", None)
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            print(f"gorilla-lsp: error: --tcp expects HOST:PORT, got {tcp!r}", file=sys.stderr)
            return 2
    server = create_server(getattr(args, "api_db", None))
    preload(server)
    if tcp:
        code = server.start_tcp(host or "127.0.0.1", int(port))
    else:
        protocol_out = sys.stdout.buffer
        sys.stdout = sys.stderr  # a stray print() from any library must not corrupt the protocol stream
        code = server.start_io(sys.stdin.buffer, protocol_out)
    log.info("exiting with code %d", code)
    logging.shutdown()
    for stream in (sys.stderr, sys.__stdout__):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)
