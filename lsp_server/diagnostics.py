"""Diagnostics: every hallucinated (and unverified) hub call in a document, published after a short debounce and
cleared on close.

The check runs on the worker thread on a snapshot of the text; its result (an `Analysis`) is kept per document
version so hover and code actions reuse it instead of checking again. Ids that only a hub can settle are verified in
the background (`lsp_server.verification`), which republishes the document when the answers arrive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from index.calls import encode
from lsp_server.edits import Encoding, Text

if TYPE_CHECKING:
    from index.api_index import ApiIndex
    from index.checker import Finding, HubCheck
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.diagnostics")

CODE = "hallucinated-api"
UNVERIFIED_CODE = "unverified-api"
SOURCE = "gorilla"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


class Judged(msgspec.Struct, frozen=True):
    """A checked call and, in client units, what a diagnostic underlines (the model id) and the whole call."""

    finding: Finding
    range: types.Range
    call_range: types.Range


class Analysis(msgspec.Struct):
    version: int | None
    index: ApiIndex
    encoding: str
    judged: list[Judged]
    source: bytes = b""
    tree: Any = None  # the tree-sitter tree of `source`, reused to parse the next version incrementally

    def hallucinated(self) -> list[Judged]:
        return [j for j in self.judged if j.finding.verdict.status == "hallucinated"]

    def unverified(self) -> list[Judged]:
        """Unverified calls a hub could not settle (not those still waiting for their hub)."""
        return [j for j in self.judged if j.finding.verdict.status == "unverified" and not j.finding.verdict.pending]

    def at(self, line: int, character: int) -> Judged | None:
        for judged in self.judged:
            if _contains(judged.call_range, line, character):
                return judged
        return None


def _contains(r: types.Range, line: int, character: int) -> bool:
    return (r.start.line, r.start.character) <= (line, character) <= (r.end.line, r.end.character)


def client_range(text: Text, span: tuple[tuple[int, int], tuple[int, int]]) -> types.Range:
    (row, col), (end_row, end_col) = span
    return types.Range(types.Position(*text.byte_to_client(row, col)), types.Position(*text.byte_to_client(end_row,
                                                                                                            end_col)))


def analyse(
    index: ApiIndex, source: str, encoding: Encoding, version: int | None, previous: Analysis | None = None,
    hubs: HubCheck | None = None,
) -> Analysis:
    """Check every hub call in `source` (worker thread); with the previous analysis, parse only what changed.

    `hubs`: judge ids the database lacks from what is known without the network (the rest stay pending)."""
    text = Text(source, encoding)
    data = encode(source)
    parser = index.db.parser
    if previous is not None and previous.tree is not None and previous.index.db.parser is parser:
        tree = parser.reparse(previous.source, previous.tree, data)
    else:
        tree = parser.parse(data)
    judged: list[Judged] = []
    for finding in index.checker.findings(data, tree=tree, hubs=hubs):
        judged.append(Judged(finding, client_range(text, finding.span),
                             client_range(text, (finding.call.start, finding.call.end))))
    return Analysis(version, index, encoding, judged, data, tree)


def message_for(index: ApiIndex, finding: Finding) -> str:
    return index.checker.message(finding)


def to_diagnostics(ls: GorillaLanguageServer, analysis: Analysis) -> list[types.Diagnostic]:
    settings = ls.settings.diagnostics
    flagged = [(j, _SEVERITY[settings.severity], CODE) for j in analysis.hallucinated()]
    if settings.unverified != "off":
        flagged += [(j, _SEVERITY[settings.unverified], UNVERIFIED_CODE) for j in analysis.unverified()]
    flagged.sort(key=lambda f: (f[0].range.start.line, f[0].range.start.character))
    out = []
    for judged, severity, code in flagged:
        verdict = judged.finding.verdict
        evidence = verdict.evidence
        data: dict[str, Any] = {"alternatives": analysis.index.checker.alternative_calls(verdict),
                                "status": verdict.status}
        if evidence is not None:
            data["evidence"] = {"source": evidence.source, "where": evidence.where, "detail": evidence.detail}
        out.append(types.Diagnostic(range=judged.range, message=message_for(analysis.index, judged.finding),
                                    severity=severity, code=code, source=SOURCE, data=data))
    return out


async def current_analysis(ls: GorillaLanguageServer, uri: str) -> Analysis | None:
    """The analysis of the document as it is now (computed if the cached one is older)."""
    doc = ls.document(uri)
    index = await ls.get_index()
    if doc is None or index is None:
        return None
    cached = ls.analyses.get(uri)
    if cached is not None and cached.version == doc.version and cached.index is index \
            and cached.encoding == ls.position_encoding:
        return cached
    version, source = doc.version, doc.source
    started = time.perf_counter()
    hubs = ls.verification.hubs(ls, uri)
    analysis = await ls.run_on_worker(analyse, index, source, ls.position_encoding, version, cached, hubs)
    log.debug("checked %s v%s: %d calls in %.1f ms", uri, version, len(analysis.judged),
              (time.perf_counter() - started) * 1000)
    current = ls.document(uri)
    if current is not None and current.version == version:
        ls.analyses[uri] = analysis
        ls.verification.request(ls, uri, analysis)
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
    analysis = await current_analysis(ls, uri)
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
    ls.verification.forget(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
