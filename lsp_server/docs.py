"""API documentation as Markdown: what hover and completion show for a record or a hallucinated call."""

from __future__ import annotations

from collections.abc import Sequence

from index.records import ApiRecord

_MAX_DESCRIPTION = 1200
_MAX_EXAMPLE_LINES = 30


def _fence(code: str) -> str:
    code = code.replace("```", "'''")
    return f"```python\n{code.strip()}\n```"


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def performance_line(record: ApiRecord) -> str:
    perf = record.performance
    parts = []
    if perf.params_m is not None:
        parts.append(f"{perf.params_m:g}M parameters")
    if perf.top1 is not None:
        parts.append(f"top-1 {perf.top1:g}%")
    if perf.top5 is not None:
        parts.append(f"top-5 {perf.top5:g}%")
    if perf.dataset:
        parts.append(f"on {perf.dataset}")
    return ", ".join(parts)


def record_markdown(record: ApiRecord, constraints: Sequence[str] = ()) -> str:
    """Name, domain, framework, description, performance, requirements and example code of one API."""
    out = [f"### {record.api_name}", f"**{record.domain or 'unknown domain'}** · {record.framework or record.hub}"]
    if record.functionality and record.functionality != record.domain:
        out[-1] += f" · {record.functionality}"
    out.append(_fence(record.api_call))
    if constraints:
        out.append("**Constraints met:** " + "; ".join(constraints))
    if record.description:
        out.append(_clip(record.description, _MAX_DESCRIPTION))
    perf = performance_line(record)
    if perf:
        out.append(f"**Performance:** {perf}")
    if record.requirements:
        out.append("**Requirements:** " + ", ".join(f"`{r}`" for r in record.requirements[:12]))
    if record.example_code.strip():
        lines = record.example_code.strip().splitlines()
        example = "\n".join(lines[:_MAX_EXAMPLE_LINES]) + ("\n# …" if len(lines) > _MAX_EXAMPLE_LINES else "")
        out.append("**Example:**\n" + _fence(example))
    out.append(f"_from {record.location}_")
    return "\n\n".join(out)


def hallucinated_markdown(call_text: str, why: str, alternatives: Sequence[ApiRecord]) -> str:
    """Why a call is flagged, and the nearest real APIs to use instead."""
    out = ["### ⚠ Hallucinated API call", _fence(call_text.splitlines()[0] if call_text else ""), why]
    if alternatives:
        out.append("**Nearest real APIs:**\n" + "\n".join(
            f"- `{r.api_call}` — {r.api_name} ({r.domain})" for r in alternatives
        ))
    else:
        out.append("No similar API is in the database.")
    return "\n\n".join(out)
