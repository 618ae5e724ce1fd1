"""Diagnostics: every hallucinated hub call in a document, published after a short debounce and cleared on close.

The check runs on a check worker on a snapshot of the text; its result (an `Analysis`) is kept per document version
so hover and code actions reuse it instead of checking again. A check whose version has been superseded stops at the
next checkpoint (a long document is checked in pieces: `index.chunked`). Positions come from byte offsets through
`index.positions`, never from tree-sitter rows, so they are the editor's whatever the line ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from index import chunked
from index.calls import encode, for_parser
from index.cancel import Cancelled, checkpoint
from index.positions import ByteMapper, Encoding, Lines

if TYPE_CHECKING:
    from index.api_index import ApiIndex
    from index.checker import Finding
    from lsp_server.documents import Document
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.diagnostics")

CODE = "hallucinated-api"
SOURCE = "gorilla"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


class Judged(msgspec.Struct, frozen=True):
    """A checked call and its range in client units."""

    finding: Finding
    range: types.Range


class Analysis(msgspec.Struct):
    version: int | None
    index: ApiIndex
    encoding: str
    judged: list[Judged]
    source: bytes = b""  # the text as tree-sitter was given it (`for_parser`)
    tree: Any = None  # the tree-sitter tree of `source` (short texts), reused to parse the next version incrementally
    pieces: list[chunked.Piece] | None = None  # the checked pieces of `source` (long texts), reused the same way
    lines: Lines | None = None  # the text the analysis is of

    def hallucinated(self) -> list[Judged]:
        return [j for j in self.judged if j.finding.verdict.status == "hallucinated"]

    def at(self, line: int, character: int) -> Judged | None:
        for judged in self.judged:
            if _contains(judged.range, line, character):
                return judged
        return None


def _contains(r: types.Range, line: int, character: int) -> bool:
    return (r.start.line, r.start.character) <= (line, character) <= (r.end.line, r.end.character)


def analyse(
    index: ApiIndex, text: str | Lines, encoding: Encoding, version: int | None, previous: Analysis | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Analysis:
    """Check every hub call in a text (worker thread); with the previous analysis, parse only what changed."""
    checkpoint(cancelled)
    lines = text if isinstance(text, Lines) else Lines(text)
    data = for_parser(encode(lines.text))
    reuse = previous is not None and previous.index.checker is index.checker
    tree = pieces = None
    if len(data) > chunked.LARGE:
        old = (previous.source, previous.pieces) if reuse and previous.pieces is not None else None
        findings, pieces = chunked.scan(index.checker, data, old, cancelled)
    else:
        parser = index.db.parser
        if reuse and previous.tree is not None:
            tree = parser.reparse(previous.source, previous.tree, data)
        else:
            tree = parser.parse(data)
        findings = list(index.checker.findings(data, tree=tree))
    checkpoint(cancelled)
    where = ByteMapper(lines, data, encoding).positions(
        offset for f in findings for offset in (f.call.start_byte, f.call.end_byte))
    judged = [Judged(f, types.Range(types.Position(*where[f.call.start_byte]), types.Position(*where[f.call.end_byte])))
              for f in findings]
    return Analysis(version, index, encoding, judged, data, tree, pieces, lines)


def message_for(index: ApiIndex, finding: Finding) -> str:
    return index.checker.message(finding)


def to_diagnostics(ls: GorillaLanguageServer, analysis: Analysis) -> list[types.Diagnostic]:
    severity = _SEVERITY[ls.settings.diagnostics.severity]
    return [
        types.Diagnostic(
            range=j.range, message=message_for(analysis.index, j.finding), severity=severity, code=CODE,
            source=SOURCE, data={"alternatives": analysis.index.checker.alternative_calls(j.finding.verdict)},
        )
        for j in analysis.hallucinated()
    ]


async def current_analysis(ls: GorillaLanguageServer, uri: str, follow: bool = True) -> Analysis | None:
    """The analysis of the document as it is now (computed if the cached one is older).

    A check of the same version already running is joined, not repeated. When the document changes meanwhile the
    check stops; with `follow` the newest version is checked instead (hover, code actions), without it None is
    returned (the newer version publishes its own diagnostics). A database reload restarts the check.
    """
    while True:
        doc = ls.document(uri)
        index = await ls.get_index()
        if doc is None or index is None:
            return None
        version, encoding = doc.version, doc.encoding
        cached = ls.analyses.get(uri)
        if cached is not None and cached.version == version and cached.index.checker is index.checker \
                and cached.encoding == encoding:
            return cached
        key = (version, index.checker, encoding)
        running = ls.checking.get(uri)
        if running is None or running[0] != key:
            check = asyncio.ensure_future(_check(ls, uri, doc, index, encoding, cached))
            check.add_done_callback(lambda done: done.cancelled() or done.exception())  # a waiter may have left
            running = ls.checking[uri] = (key, check)
        try:
            return await asyncio.shield(running[1])
        except Cancelled:
            if not follow and (ls.document(uri) is not doc or doc.version != version):
                return None


async def _check(ls: GorillaLanguageServer, uri: str, doc: Document, index: ApiIndex, encoding: Encoding,
                 previous: Analysis | None) -> Analysis:
    version, text = doc.version, doc.snapshot()
    key = (version, index.checker, encoding)

    def superseded() -> bool:
        current = ls.index
        return ls.document(uri) is not doc or doc.version != version or current is None \
            or current.checker is not index.checker

    started = time.perf_counter()
    try:
        analysis = await ls.run(ls.workers.check, analyse, index, text, encoding, version, previous, superseded)
    finally:
        if ls.checking.get(uri, (None,))[0] == key:
            del ls.checking[uri]
    log.debug("checked %s v%s: %d calls in %.1f ms", uri, version, len(analysis.judged),
              (time.perf_counter() - started) * 1000)
    if not superseded():
        ls.analyses[uri] = analysis
    if analysis.lines is not None:
        doc.remember(analysis.lines)
    return analysis


async def publish(ls: GorillaLanguageServer, uri: str) -> None:
    ls.diagnostic_timers.pop(uri, None)
    doc = ls.document(uri)
    if doc is None:
        return
    version = doc.version
    if not ls.settings.diagnostics.enabled:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[], version=version))
        return
    analysis = await current_analysis(ls, uri, follow=False)
    doc = ls.document(uri)
    if analysis is None or doc is None or doc.version != version or uri in ls.diagnostic_timers:
        return  # closed or edited meanwhile: the newer change publishes
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=to_diagnostics(ls, analysis), version=version)
    )


def schedule(ls: GorillaLanguageServer, uri: str, delay: float | None = None) -> None:
    """(Re)start the debounce timer of a document."""
    previous = ls.diagnostic_timers.pop(uri, None)
    if previous is not None:
        previous.cancel()
    loop = asyncio.get_running_loop()
    wait = ls.debounce_seconds if delay is None else delay
    ls.diagnostic_timers[uri] = loop.call_later(wait, lambda: ls.spawn(publish(ls, uri)))


def refresh_all(ls: GorillaLanguageServer) -> None:
    for uri in list(ls.workspace.text_documents):
        schedule(ls, uri, 0)


def did_open(ls: GorillaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    schedule(ls, params.text_document.uri, 0)


def did_change(ls: GorillaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    token = ls.completion_tokens.get(uri)
    if token is not None:
        token.set()  # the text a running completion was computed for is gone
    schedule(ls, uri)


def did_close(ls: GorillaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    timer = ls.diagnostic_timers.pop(uri, None)
    if timer is not None:
        timer.cancel()
    ls.analyses.pop(uri, None)
    ls.checking.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
