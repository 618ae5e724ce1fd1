"""Hover: the documentation of a known API call, or why a call is hallucinated and what to use instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from lsp_server.diagnostics import current_analysis
from lsp_server.docs import hallucinated_markdown, record_markdown

if TYPE_CHECKING:
    from lsp_server.server import GorillaLanguageServer


async def hover(ls: GorillaLanguageServer, params: types.HoverParams) -> types.Hover | None:
    analysis = await current_analysis(ls, params.text_document.uri)
    if analysis is None:
        return None
    judged = analysis.at(params.position.line, params.position.character)
    if judged is None:
        return None
    verdict = judged.finding.verdict
    apis = analysis.index.db.apis
    if verdict.status == "known" and verdict.api is not None:
        value = record_markdown(apis[verdict.api])
    elif verdict.status == "hallucinated":
        identity = verdict.identity
        why = (f"`{identity.callee}` loads `{identity.primary}`, but no API in the database "
               f"({len(apis)} APIs) has that identity: the model that wrote it probably invented it.")
        value = hallucinated_markdown(judged.finding.call.text, why, [apis[i] for i in verdict.alternatives])
    else:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=judged.range)
