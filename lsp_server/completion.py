"""Completion and inline completion: the comment at the cursor becomes API calls from the pipeline.

Each suggestion writes the call (assigned to a name on an empty line) and, for a completion item, the import it needs
as an additional edit. A newer completion request for the same document, an edit, or `$/cancelRequest` cancels the
one in flight: it stops at the next checkpoint (before and after retrieval, between generated tokens) and is answered
RequestCancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from index.cancel import checkpoint
from index.positions import Lines
from lsp_server.comments import CommentFinder, CommentRequest
from lsp_server.docs import record_markdown
from lsp_server.edits import Encoding, Insertion, Text, call_insertion, import_for, import_insertion
from lsp_server.settings import Settings

if TYPE_CHECKING:
    from engine.pipeline import CompletionPipeline, Suggestion
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.completion")


class Prepared(msgspec.Struct):
    """One suggestion with its edits, ready to become a completion item or an inline item."""

    suggestion: Suggestion
    call: Insertion
    import_edit: Insertion | None
    import_line: str | None
    detail: str
    documentation: str


def prepare(
    comments: CommentFinder, pipeline: CompletionPipeline, settings: Settings, source: str | Lines,
    encoding: Encoding, line: int, character: int, cancelled: threading.Event,
) -> list[Prepared] | None:
    """Suggestions for the request at a position (worker thread); None when the cursor is not at a request."""
    checkpoint(cancelled.is_set)  # superseded while it waited in the queue
    text = Text(source, encoding)
    position = text.from_client(line, character)
    if position is None:
        return None
    row, column = position
    request = comments.request_at(text.lines, row, column)
    if request is None:
        return None
    checkpoint(cancelled.is_set)
    imports = comments.imports(text.lines)
    hub = _hub(comments, text.lines)
    result = pipeline.complete(
        request.text, n=settings.completion.max_candidates, top_k=settings.retrieval.top_k, hub=hub,
        hub_filter=False, hallucinated=settings.completion.hallucinated, cancelled=cancelled.is_set,
    )
    apis = pipeline.index.db.apis
    prepared: list[Prepared] = []
    # The pipeline's order: known APIs first, calls the database does not know last (marked).
    for suggestion in result.suggestions:
        record = apis[suggestion.api] if suggestion.api is not None else None
        insertion = call_insertion(text.lines, row, column, request.indent, request.cursor_on_comment,
                                   suggestion.api_call, text.units)
        needed = import_for(suggestion.api_call, record)
        import_edit = None
        import_line = None
        if needed is not None and needed[0] not in imports:
            import_line = needed[1]
            import_edit = import_insertion(text.lines, import_line, text.units)
            if import_edit.line == insertion.line and import_edit.start >= insertion.start:  # would overlap
                import_edit, import_line = None, None
        prepared.append(Prepared(suggestion, insertion, import_edit, import_line, _detail(suggestion),
                                 _documentation(suggestion, record, request)))
    return prepared


def _hub(comments: CommentFinder, lines: list[str]) -> str | None:
    return comments.hub_of(lines)


def _detail(s: Suggestion) -> str:
    if s.verdict != "known":
        nearest = f"; nearest: {s.alternatives[0]}" if s.alternatives else ""
        return f"⚠ not in the API database (hallucinated){nearest}"
    parts = [s.api_name, s.domain]
    if s.constraints.met:
        parts.append("✓ " + ", ".join(s.constraints.met))
    if s.constraints.violated:
        parts.append("✗ " + ", ".join(s.constraints.violated))
    return " · ".join(p for p in parts if p)


def _documentation(s: Suggestion, record: Any, request: CommentRequest) -> str:
    if record is None:
        alternatives = "\n".join(f"- `{a}`" for a in s.alternatives) or "none"
        return (f"### ⚠ Not in the API database\n\n```python\n{s.api_call}\n```\n\nThe model generated this call but "
                f"no API in the database matches it (hallucinated).\n\n**Nearest real APIs:**\n{alternatives}")
    return f"_Request: {request.text}_\n\n" + record_markdown(record, s.constraints.met)


def _range(line: int, start: int, end: int) -> types.Range:
    return types.Range(types.Position(line, start), types.Position(line, end))


def _edit(insertion: Insertion) -> types.TextEdit:
    return types.TextEdit(range=_range(insertion.line, insertion.start, insertion.end), new_text=insertion.text)


async def _suggest(ls: GorillaLanguageServer, uri: str, position: types.Position) -> list[Prepared] | None:
    doc = ls.document(uri)
    if doc is None:
        return None
    await ls.get_index()
    pipeline = ls.pipeline
    doc = ls.document(uri)
    if pipeline is None or doc is None:
        return None
    token = threading.Event()
    previous = ls.completion_tokens.get(uri)
    if previous is not None:
        previous.set()  # a newer request for this document supersedes the one in flight
    ls.completion_tokens[uri] = token
    try:
        prepared = await ls.run(
            ls.workers.complete, prepare, ls.comments, pipeline, ls.settings, doc.snapshot(), doc.encoding,
            position.line, position.character, token,
        )
    except asyncio.CancelledError:  # $/cancelRequest: stop the generation too
        token.set()
        raise
    finally:
        if ls.completion_tokens.get(uri) is token:
            del ls.completion_tokens[uri]
    if token.is_set():
        raise JsonRpcRequestCancelled("superseded by a newer completion request or an edit")
    return prepared


async def completion(ls: GorillaLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
    prepared = await _suggest(ls, params.text_document.uri, params.position)
    if prepared is None:
        return None
    items = []
    for rank, p in enumerate(prepared):
        s = p.suggestion
        hallucinated = s.verdict != "known"
        items.append(types.CompletionItem(
            label=s.api_call,
            label_details=types.CompletionItemLabelDetails(description=s.domain or ("⚠ hallucinated" if hallucinated else None)),
            kind=types.CompletionItemKind.Function,
            detail=p.detail,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=p.documentation),
            sort_text=f"{rank:03d}",
            filter_text=s.api_call,
            preselect=rank == 0,
            text_edit=_edit(p.call),
            additional_text_edits=[_edit(p.import_edit)] if p.import_edit is not None else None,
            insert_text_format=types.InsertTextFormat.PlainText,
            tags=[types.CompletionItemTag.Deprecated] if hallucinated else None,
            data={"api": s.api, "verdict": s.verdict, "source": s.source},
        ))
    return types.CompletionList(is_incomplete=False, items=items)


async def inline_completion(
    ls: GorillaLanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    uri = params.text_document.uri
    prepared = await _suggest(ls, uri, params.position)
    if prepared is None:
        return None
    from lsp_server.server import INSERT_IMPORT_COMMAND

    can_edit = ls.supports("workspace.apply_edit")
    items = []
    for p in prepared:
        text = p.call.text
        if p.suggestion.verdict != "known":
            text += "  # ⚠ not in the API database (hallucinated)"
        command = None
        if p.import_line is not None and can_edit:
            # Inline items replace one range; the import is added by a command run once the user accepts.
            command = types.Command(title=f"Add `{p.import_line}`", command=INSERT_IMPORT_COMMAND,
                                    arguments=[uri, p.import_line])
        items.append(types.InlineCompletionItem(
            insert_text=text, range=_range(p.call.line, p.call.start, p.call.end), command=command,
        ))
    return types.InlineCompletionList(items=items)
