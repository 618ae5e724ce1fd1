"""The real-code corpus (tests/data/corpus/manifest.json): each public file rebuilt from its imports and loader calls,
checked with the product's own code path (`lsp_server.commands.check.check_files`), and counted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from index.api_index import ApiIndex
from index.hubs import HubVerifier
from lsp_server.commands.check import check_files

MANIFEST = Path(__file__).resolve().parent / "data" / "corpus" / "manifest.json"
STATUSES = ("known", "exists", "hallucinated", "unverified", "none")


def load_manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text())["files"]


def offline_expectation(expect: str) -> str:
    """Offline, only the database (and an invented loader, none in this corpus) can settle a call."""
    return expect if expect in ("known", "none") else "unverified"


def write_corpus(folder: Path) -> list[tuple[Path, list[tuple[int, int, str]]]]:
    """One .py file per entry; for each call, its first and last line and the verdict expected."""
    files = []
    for number, entry in enumerate(load_manifest()):
        lines = [f"# {entry['repository']}/{entry['path']} @ {entry['commit']}", *entry["imports"], ""]
        spans = []
        for i, call in enumerate(entry["calls"]):
            first = len(lines)
            lines.extend(f"v{i} = {call['call']}".split("\n"))
            spans.append((first, len(lines) - 1, call["expect"]))
        path = folder / f"file{number:02d}.py"
        path.write_text("\n".join(lines) + "\n")
        files.append((path, spans))
    return files


def judge(index: ApiIndex, verifier: HubVerifier, folder: Path, offline: bool = False) -> list[dict]:
    """One row per loader call: where it is, what was expected, what the checker said."""
    files = write_corpus(folder)
    checked, unreadable = check_files(index, [p for p, _ in files], verifier)
    assert not unreadable, unreadable
    rows = []
    for (path, spans), entry in zip(files, load_manifest()):
        findings = checked[path][1]
        for (first, last, expect), call in zip(spans, entry["calls"]):
            got = [f for f in findings if first <= f.call.start[0] <= last]
            status = got[0].verdict.status if got else "none"
            rows.append({"repository": entry["repository"], "path": entry["path"], "call": call["call"],
                         "expect": offline_expectation(expect) if offline else expect, "got": status,
                         "message": index.checker.message(got[0]) if got and status != "known" else ""})
    return rows


def figures(rows: list[dict]) -> dict[str, int]:
    got = Counter(r["got"] for r in rows)
    real = [r for r in rows if r["expect"] != "hallucinated"]
    return {
        "calls": len(rows), **{s: got[s] for s in STATUSES},
        "false alarms": sum(r["got"] == "hallucinated" for r in real),
        "as expected": sum(r["got"] == r["expect"] for r in rows),
    }
