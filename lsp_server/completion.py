"""Completion and inline completion: the comment at the cursor becomes API calls from the pipeline.

Each suggestion writes the call (assigned to a name on an empty line) and, for a completion item, the import it needs
as an additional edit. A newer completion request for the same document, an edit, or `$/cancelRequest` cancels the
one in flight: it stops at the next checkpoint (before and after retrieval, between generated tokens) and is answered
RequestCancelled.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from index.cancel import checkpoint
from index.positions import Lines
from lsp_server.comments import CommentFinder, CommentRequest
from lsp_server.docs import record_markdown
from lsp_server.edits import Encoding, Insertion, Text, bound_name, call_insertion, import_for, import_insertion
from lsp_server.settings import Settings

if TYPE_CHECKING:
    from engine.pipeline import CompletionPipeline, Suggestion
    from index.checker import HubCheck
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.completion")


class Prepared(msgspec.Struct):
    """One suggestion with its edits, ready to become a completion item or an inline item."""

    suggestion: Suggestion
    call: Insertion
    import_edit: Insertion | None
    import_line: str | None  # the missing import lines, one per line
    detail: str
    documentation: str
    snippet: str | None = None  # the call's text with its placeholders as tab stops (None: it has none)


def prepare(
    comments: CommentFinder, pipeline: CompletionPipeline, settings: Settings, source: str | Lines,
    encoding: Encoding, line: int, character: int, cancelled: threading.Event, hubs: HubCheck | None = None,
) -> list[Prepared] | None:
    """Suggestions for the request at a position (worker thread); None when the cursor is not at a request.

    `hubs`: generated calls the database lacks are judged from what their hubs have answered (no waiting)."""
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
    # The file's imports are a hint for ties only: the pipeline never lets them bring in a less relevant API.
    result = pipeline.complete(
        request.text, n=settings.completion.max_candidates, top_k=settings.retrieval.top_k, hub=hub,
        hub_filter=False, hallucinated=settings.completion.hallucinated, cancelled=cancelled.is_set, hubs=hubs,
    )
    apis = pipeline.index.db.apis
    prepared: list[Prepared] = []
    # The pipeline's order: known APIs first, calls the database does not know last (marked).
    for suggestion in result.suggestions:
        record = apis[suggestion.api] if suggestion.api is not None else None
        insertion = call_insertion(text.lines, row, column, request.indent, request.cursor_on_comment,
                                   suggestion.api_call, text.units)
        needed = suggestion.imports or _model_import(suggestion, record)
        missing = [line for line in needed if bound_name(line) not in imports]
        import_edit = None
        import_line = "\n".join(missing) or None
        if import_line is not None:
            import_edit = import_insertion(text.lines, import_line, text.units)
            if import_edit.line == insertion.line and import_edit.start >= insertion.start:  # would overlap
                import_edit, import_line = None, None
        snippet = None
        if suggestion.placeholders:
            snippet = snippet_text(insertion.text, suggestion.api_call, suggestion.placeholders)
        prepared.append(Prepared(suggestion, insertion, import_edit, import_line, _detail(suggestion),
                                 _documentation(suggestion, record, request), snippet))
    return prepared


def _model_import(suggestion: Suggestion, record: Any) -> list[str]:
    """Imports for a call the model generated (not in the database, so not repaired at load)."""
    needed = import_for(suggestion.api_call, record)
    return [needed[1]] if needed is not None else []


def _escape_snippet(text: str) -> str:
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def snippet_text(inserted: str, call: str, placeholders: list[str]) -> str:
    """The inserted text as an LSP snippet: each placeholder (a free name such as `use_gpu`, or the inside of a
    placeholder string such as 'path_to_folder/model.pkl') becomes a tab stop, in order; the rest is escaped."""
    at = inserted.rfind(call)
    if at < 0:
        return _escape_snippet(inserted)
    head, body, tail = inserted[:at], call, inserted[at + len(call):]
    pieces: list[str] = []
    position = 0
    stop = 0
    spans: list[tuple[int, int, str]] = []
    for placeholder in placeholders:
        pattern = re.escape(placeholder) if not re.fullmatch(r"\w+", placeholder) else rf"(?<![\w.'\"]){placeholder}(?![\w'\"]|\s*=(?!=))"
        match = re.search(pattern, body)
        if match is not None:
            spans.append((match.start(), match.end(), placeholder))
    for start, end, placeholder in sorted(spans):
        if start < position:
            continue
        stop += 1
        pieces.append(_escape_snippet(body[position:start]))
        pieces.append(f"${{{stop}:{_escape_snippet(placeholder)}}}")
        position = end
    pieces.append(_escape_snippet(body[position:]))
    return _escape_snippet(head) + "".join(pieces) + _escape_snippet(tail) + "$0"


def _hub(comments: CommentFinder, lines: list[str]) -> str | None:
    return comments.hub_of(lines)


_NOT_IN_DATABASE = {
    "exists": "✓ not in the API database; confirmed on its hub",
    "unverified": "? not in the API database; not verified",
    "hallucinated": "⚠ does not exist (hallucinated)",
}


def _detail(s: Suggestion) -> str:
    """The full call first (the label is only the model's name), then what the database says about it."""
    if s.verdict != "known":
        nearest = f"; nearest: {s.alternatives[0]}" if s.alternatives and s.verdict != "exists" else ""
        return f"{_NOT_IN_DATABASE.get(s.verdict, s.verdict)}: {s.api_call}{nearest}"
    parts = [s.api_call, s.domain]
    if s.constraints.met:
        parts.append("✓ " + ", ".join(s.constraints.met))
    if s.constraints.violated:
        parts.append("✗ " + ", ".join(s.constraints.violated))
    return " · ".join(p for p in parts if p)


def _documentation(s: Suggestion, record: Any, request: CommentRequest) -> str:
    if record is None:
        alternatives = "\n".join(f"- `{a}`" for a in s.alternatives) or "none"
        said = f"\n\n{s.evidence}." if s.evidence else ""
        verdict = {"exists": "it exists on its hub", "unverified": "its hub has not confirmed it (yet)",
                   "hallucinated": "it does not exist (hallucinated)"}.get(s.verdict, s.verdict)
        return (f"### {_NOT_IN_DATABASE.get(s.verdict, s.verdict)}\n\n```python\n{s.api_call}\n```\n\nThe model "
                f"generated this call; no API in the database matches it, and {verdict}.{said}"
                f"\n\n**Nearest real APIs:**\n{alternatives}")
    return f"_Request: {request.text}_\n\n" + record_markdown(record, s.constraints.met)


_LIST_MARK = {"exists": "✓ on its hub", "unverified": "? not verified", "hallucinated": "⚠ hallucinated"}


def _range(line: int, start: int, end: int) -> types.Range:
    return types.Range(types.Position(line, start), types.Position(line, end))


def _edit(insertion: Insertion) -> types.TextEdit:
    return types.TextEdit(range=_range(insertion.line, insertion.start, insertion.end), new_text=insertion.text)


async def _suggest(
    ls: GorillaLanguageServer, uri: str, position: types.Position, inline: bool = False
) -> list[Prepared] | None:
    """Prepared suggestions at a position. A newer request of the same kind for the document supersedes this one; a
    completion list and ghost text for the same line (VS Code asks for both) do not cancel each other."""
    doc = ls.document(uri)
    if doc is None:
        return None
    # Superseding goes by arrival: the token is taken before any wait, so an older request that resumes later (all
    # of them wait for the index at start-up) cannot cancel a newer one.
    token = threading.Event()
    key = f"{uri}#inline" if inline else uri
    previous = ls.completion_tokens.get(key)
    if previous is not None:
        previous.set()  # a newer request for this document supersedes the one in flight
    ls.completion_tokens[key] = token
    try:
        await ls.get_index()
        pipeline = ls.pipeline
        doc = ls.document(uri)
        if token.is_set():
            _cancelled()
        if pipeline is None or doc is None:
            return None
        hubs = ls.verification.hubs(ls, uri) if pipeline.model is not None else None  # only generated calls need it
        prepared = await ls.run(
            ls.workers.complete, prepare, ls.comments, pipeline, ls.settings, doc.snapshot(), doc.encoding,
            position.line, position.character, token, hubs,
        )
    except asyncio.CancelledError:  # $/cancelRequest: stop the generation too
        token.set()
        raise
    finally:
        if ls.completion_tokens.get(key) is token:
            del ls.completion_tokens[key]
    if token.is_set():
        _cancelled()
    return prepared


def _cancelled() -> NoReturn:
    raise JsonRpcRequestCancelled("superseded by a newer completion request or an edit")


async def completion(ls: GorillaLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
    prepared = await _suggest(ls, params.text_document.uri, params.position)
    if prepared is None:
        return None
    items = []
    snippets = ls.supports("text_document.completion.completion_item.snippet_support")
    for rank, p in enumerate(prepared):
        s = p.suggestion
        hallucinated = s.verdict == "hallucinated"
        snippet = p.snippet is not None and snippets
        edit = _edit(p.call)
        if snippet:
            edit = types.TextEdit(range=edit.range, new_text=p.snippet or "")
        items.append(types.CompletionItem(
            label=s.label or s.api_call,
            label_details=types.CompletionItemLabelDetails(
                description=(s.task or s.domain) if s.verdict == "known" else _LIST_MARK.get(s.verdict)),
            kind=types.CompletionItemKind.Function,
            detail=p.detail,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=p.documentation),
            sort_text=f"{rank:03d}",
            filter_text=s.api_call,
            preselect=rank == 0,
            text_edit=edit,
            additional_text_edits=[_edit(p.import_edit)] if p.import_edit is not None else None,
            insert_text_format=types.InsertTextFormat.Snippet if snippet else types.InsertTextFormat.PlainText,
            tags=[types.CompletionItemTag.Deprecated] if hallucinated else None,
            data={"api": s.api, "verdict": s.verdict, "source": s.source},
        ))
    return types.CompletionList(is_incomplete=False, items=items)


async def inline_completion(
    ls: GorillaLanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    uri = params.text_document.uri
    prepared = await _suggest(ls, uri, params.position, inline=True)
    if prepared is None:
        return None
    from lsp_server.server import INSERT_IMPORT_COMMAND

    can_edit = ls.supports("workspace.apply_edit")
    items = []
    for p in prepared:
        text = p.call.text
        if p.suggestion.verdict == "hallucinated":
            text += "  # ⚠ does not exist (hallucinated)"
        elif p.suggestion.verdict == "unverified":
            text += "  # ? not in the API database; not verified"
        command = None
        if p.import_line is not None and can_edit:
            # Inline items replace one range; the import is added by a command run once the user accepts.
            command = types.Command(title=f"Add `{p.import_line}`", command=INSERT_IMPORT_COMMAND,
                                    arguments=[uri, p.import_line])
        items.append(types.InlineCompletionItem(
            insert_text=text, range=_range(p.call.line, p.call.start, p.call.end), command=command,
        ))
    return types.InlineCompletionList(items=items)
