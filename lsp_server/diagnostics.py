"""Diagnostics: every hallucinated (and unverified) hub call in a document, published after a short debounce and
cleared on close.

The check (`lsp_server.analysis`) runs on a check worker on a snapshot of the text; its result is kept per document
version so hover and code actions reuse it instead of checking again. A check whose version has been superseded
stops at the next checkpoint. Ids that only a hub can settle are verified in the background
(`lsp_server.verification`), which republishes the document when the answers arrive. Diagnostics are sent as plain
JSON, their texts kept per call: 1,000 of them cost one msgspec encoding, not 1,000 converted objects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from index.cancel import Cancelled

if TYPE_CHECKING:
    from index.api_index import ApiIndex
    from index.checker import Finding
    from index.positions import Encoding
    from lsp_server.analysis import Analysis
    from lsp_server.documents import Document
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
_TEXTS_KEPT = 50_000  # diagnostic texts remembered per call (cleared past this)


def message_for(index: ApiIndex, finding: Finding) -> str:
    return index.checker.message(finding)


def to_diagnostics(ls: GorillaLanguageServer, analysis: Analysis) -> list[dict[str, Any]]:
    """The LSP `Diagnostic`s of an analysis, as JSON-ready dicts: hallucinated calls at the configured severity,
    calls no hub could settle at `diagnostics.unverified` (never a warning)."""
    settings = ls.settings.diagnostics
    flagged = [(j, int(_SEVERITY[settings.severity]), CODE) for j in analysis.hallucinated()]
    if settings.unverified != "off":
        flagged += [(j, int(_SEVERITY[settings.unverified]), UNVERIFIED_CODE) for j in analysis.unverified()]
        flagged.sort(key=lambda f: f[0].span)
    texts = ls.diagnostic_texts
    if len(texts) > _TEXTS_KEPT:
        texts.clear()
    out = []
    for judged, severity, code in flagged:
        finding = judged.finding
        verdict = finding.verdict
        key = (analysis.index.checker, finding.call.text, verdict)
        text = texts.get(key)
        if text is None:
            # The message already says the detail and the nearest APIs (the quick fixes insert them): a file with
            # 1,000 invented calls publishes 1.04 MB when `data` repeats them, 0.75 MB without.
            data: dict[str, Any] = {"status": verdict.status}
            if verdict.evidence is not None:
                data["evidence"] = {"source": verdict.evidence.source, "where": verdict.evidence.where}
            text = texts[key] = (message_for(analysis.index, finding), data)
        line, character, end_line, end_character = judged.span
        out.append({"range": {"start": {"line": line, "character": character},
                              "end": {"line": end_line, "character": end_character}},
                    "message": text[0], "severity": severity, "code": code, "source": SOURCE, "data": text[1]})
    return out


def _send(ls: GorillaLanguageServer, uri: str, version: int | None, diagnostics: list[dict[str, Any]]) -> None:
    params: dict[str, Any] = {"uri": uri, "diagnostics": diagnostics}
    if version is not None:
        params["version"] = version
    ls.protocol.send_json({"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, "params": params})


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
        # A check started before the hub settings or transformers' names changed is not joined: it judged with the
        # old ones.
        key = (version, index.checker, encoding, ls.verification.generation)
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
    generation = ls.verification.generation
    key = (version, index.checker, encoding, generation)

    def superseded() -> bool:
        current = ls.index
        return ls.document(uri) is not doc or doc.version != version or current is None \
            or current.checker is not index.checker or ls.verification.generation != generation

    from lsp_server.analysis import analyse  # with numpy and the checker: not on the way to answering `initialize`

    started = time.perf_counter()
    hubs = ls.verification.hubs(ls, uri)
    try:
        analysis = await ls.run(ls.workers.check, analyse, index, text, encoding, version, previous, superseded,
                                hubs)
    finally:
        if ls.checking.get(uri, (None,))[0] == key:
            del ls.checking[uri]
    log.debug("checked %s v%s: %d calls in %.1f ms", uri, version, len(analysis.judged),
              (time.perf_counter() - started) * 1000)
    if not superseded():
        ls.analyses[uri] = analysis
        ls.verification.request(ls, uri, analysis)
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
        _send(ls, uri, version, [])
        return
    generation = ls.verification.generation
    analysis = await current_analysis(ls, uri, follow=False)
    doc = ls.document(uri)
    if analysis is None or doc is None or doc.version != version or uri in ls.diagnostic_timers \
            or ls.verification.generation != generation:
        return  # closed, edited or to be judged again meanwhile: the newer publication follows
    _send(ls, uri, version, to_diagnostics(ls, analysis))


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
    for key in (uri, f"{uri}#inline"):  # the completion list's request and the ghost text's
        token = ls.completion_tokens.get(key)
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
    ls.verification.forget(uri)
    _send(ls, uri, None, [])
