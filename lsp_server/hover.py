"""Hover: the documentation of a known API call; for another id, what its hub said (and where); for a hallucinated
call, why, and what to use instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from index.checker import one_line
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
    evidence = verdict.evidence
    call = one_line(judged.finding.call)
    where = f" ({evidence.where})" if evidence is not None and evidence.where else ""
    if verdict.status == "known" and verdict.api is not None:
        value = record_markdown(apis[verdict.api])
    elif verdict.status == "hallucinated":
        identity = verdict.identity
        if evidence is None:
            why = (f"`{identity.callee}` loads `{identity.primary}`, but no API in the database "
                   f"({len(apis)} APIs) has that identity: the model that wrote it probably invented it.")
        else:
            why = f"**{evidence.source}** says: {evidence.detail}{where}."
        value = hallucinated_markdown(call, why, [apis[i] for i in verdict.alternatives])
    elif verdict.status == "exists" and evidence is not None:
        value = (f"### ✓ Exists\n\n```python\n{call}\n```\n\nNot in the API database ({len(apis)} APIs), "
                 f"but **{evidence.source}** confirms it: {evidence.detail}{where}.")
    elif verdict.status == "unverified" and evidence is not None:
        state = "is being checked" if verdict.pending else f"could not be checked: {evidence.detail}{where}"
        value = (f"### ? Unverified\n\n```python\n{call}\n```\n\nNot in the API database ({len(apis)} APIs); "
                 f"whether **{evidence.source}** has it {state}.")
    else:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value),
                       range=judged.call_range)
