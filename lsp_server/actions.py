"""Code actions: replace a hallucinated call with one of the nearest real APIs; the inline-completion import command.

Edits are versioned when the client supports it, so a fix computed for an older text is refused rather than applied
to the wrong place.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server.diagnostics import CODE, current_analysis
from lsp_server.edits import Text, bound_name, import_for, import_insertion

if TYPE_CHECKING:
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.actions")


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line, b.start.character) <= (a.end.line, a.end.character)


def workspace_edit(ls: GorillaLanguageServer, uri: str, version: int | None, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    if ls.supports("workspace.workspace_edit.document_changes"):
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits,
        )])
    return types.WorkspaceEdit(changes={uri: edits})


async def code_action(ls: GorillaLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    uri = params.text_document.uri
    only = params.context.only
    if only and not any(str(k).startswith(types.CodeActionKind.QuickFix.value) for k in only):
        return None
    analysis = await current_analysis(ls, uri)
    doc = ls.document(uri)
    if analysis is None or doc is None:
        return None
    apis = analysis.index.db.apis
    text = Text(doc.text_lines, doc.encoding)
    imports: dict[str, str] | None = None
    actions: list[types.CodeAction] = []
    for judged in analysis.hallucinated():
        if not _overlaps(judged.call_range, params.range):
            continue
        related = [d for d in params.context.diagnostics if d.code == CODE and _overlaps(d.range, judged.call_range)]
        for rank, api in enumerate(judged.finding.verdict.alternatives):
            record = apis[api]
            edits = [types.TextEdit(range=judged.call_range, new_text=record.runnable.call)]
            needed = import_for(record.api_call, record)
            if needed is not None:
                if imports is None:
                    imports = await ls.run(ls.workers.complete, ls.comments.imports, text.lines)
                if needed[0] not in imports:
                    insertion = import_insertion(text.lines, needed[1], text.units)
                    edits.insert(0, types.TextEdit(range=types.Range(
                        types.Position(insertion.line, insertion.start), types.Position(insertion.line, insertion.end)),
                        new_text=insertion.text))
            actions.append(types.CodeAction(
                title=f"Replace with {record.runnable.call}  ({record.api_name}, {record.domain})",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=related or None,
                is_preferred=rank == 0,
                edit=workspace_edit(ls, uri, doc.version, edits),
            ))
    return actions


async def insert_import(ls: GorillaLanguageServer, *args: Any) -> bool:
    """`gorilla.insertImport(uri, lines)`: add the imports (one per line) an accepted inline completion needs, unless
    already there."""
    if len(args) != 2 or not all(isinstance(a, str) for a in args):
        raise ValueError("gorilla.insertImport expects [uri, import line]")
    uri, given = args
    doc = ls.document(uri)
    wanted = given.split("\n")
    if doc is None or not all(w.startswith(("import ", "from ")) for w in wanted):
        return False
    text = Text(doc.text_lines, doc.encoding)
    imports = await ls.run(ls.workers.complete, ls.comments.imports, text.lines)
    missing = [w for w in wanted if bound_name(w) not in imports]
    if not missing:
        return False
    line = "\n".join(missing)
    insertion = import_insertion(text.lines, line, text.units)
    edit = types.TextEdit(range=types.Range(types.Position(insertion.line, insertion.start),
                                            types.Position(insertion.line, insertion.end)), new_text=insertion.text)
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
        edit=workspace_edit(ls, uri, doc.version, [edit]), label=f"Add {line}",
    ))
    return bool(result and result.applied)
