"""`gorilla-lsp check PATH...`: hub calls in Python files, checked like a linter.

An id the API database lacks is verified on its hub (all hubs at once, each id asked once, answers cached for every
later run and for the editor); `--offline` (or GORILLA_LSP_OFFLINE=1) asks no hub and uses only what this machine
knows. Exit status 1 only when a call is hallucinated: an unverified call is reported, never a failure.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from lsp_server.commands.common import EXIT_FOUND, EXIT_OK, CliError, add_db, add_format, load_index, write_json
from lsp_server.commands.walk import NotFound, Skipped, collect, read_source

if TYPE_CHECKING:
    from index.api_index import ApiIndex
    from index.checker import Evidence, Finding, HubCheck
    from index.hubs import HubVerifier

SEVERITY = {"hallucinated": "warning", "unverified": "information"}
CODE = {"hallucinated": "hallucinated-api", "unverified": "unverified-api"}


class Diagnostic(msgspec.Struct, omit_defaults=True):
    path: str
    line: int
    character: int
    end_line: int
    end_character: int
    severity: str
    code: str
    message: str
    suggestions: list[str] = []
    status: str = ""  # hallucinated | unverified (empty for a skipped file)
    evidence: Evidence | None = None


def diagnostics_for(
    index: ApiIndex, path: str, source: bytes, hubs: HubCheck | None = None,
    findings: list[Finding] | None = None,
) -> list[Diagnostic]:
    """Diagnostics for one file: hallucinated and unverified calls (0-based lines as the LSP counts them, characters
    in code points), ranged on what they are about (the model id, an invented name).

    A long file is checked in pieces (`index.chunked`: memory follows a piece, not the file); positions come from
    byte offsets through `index.positions`, as in the server, whatever the file's line ends.
    """
    from index import chunked
    from index.calls import for_parser
    from index.positions import ByteMapper, Lines

    if findings is None:
        findings = chunked.findings(index.checker, for_parser(source), hubs=hubs)
    flagged = [f for f in findings if f.verdict.status in SEVERITY]
    if not flagged:
        return []
    where = ByteMapper(Lines(source.decode("utf-8", "surrogateescape")), source, "utf-32", "surrogateescape").positions(
        offset for f in flagged for offset in f.focus_bytes)
    found: list[Diagnostic] = []
    for finding in flagged:
        verdict = finding.verdict
        start, end = finding.focus_bytes
        (line, character), (end_line, end_character) = where[start], where[end]
        found.append(Diagnostic(
            path=path, line=line, character=character, end_line=end_line, end_character=end_character,
            severity=SEVERITY[verdict.status], code=CODE[verdict.status], message=index.checker.message(finding),
            suggestions=index.checker.alternative_calls(verdict), status=verdict.status,
            evidence=verdict.evidence,
        ))
    return found


def check_files(
    index: ApiIndex, files: list[Path], verifier: HubVerifier, jobs: int = 16
) -> tuple[dict[Path, tuple[bytes, list[Finding]]], dict[Path, str]]:
    """Every file's findings, its pending ids verified on their hubs meanwhile (each key asked once, `jobs` at once)."""
    from index import chunked
    from index.calls import for_parser
    from index.checker import HubCheck

    checked: dict[Path, tuple[bytes, list[Finding]]] = {}
    unreadable: dict[Path, str] = {}
    pending = {}
    cwd = Path.cwd()
    for file in files:
        source, why = read_source(file)
        if source is None:
            unreadable[file] = why or "unreadable"
            continue
        hubs = HubCheck(verifier, (file.parent, cwd))
        findings = chunked.findings(index.checker, for_parser(source), hubs=hubs)
        for finding in findings:
            target = finding.verdict.target
            if finding.verdict.pending and target is not None:
                pending.setdefault(target.key, target)
        checked[file] = (source, findings)
    if pending:
        with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="gorilla-verify") as pool:
            list(pool.map(verifier.verify, pending.values()))
        for file, (source, findings) in checked.items():
            checked[file] = (source, [index.checker.rejudge(f, verifier) for f in findings])
    return checked, unreadable


def cmd_check(args: argparse.Namespace) -> int:
    from index.hubs import HubVerifier

    index = load_index(args.api_db)
    try:
        files, skipped = collect(args.paths)
    except NotFound as exc:
        raise CliError(f"{exc}: no such file or directory") from exc
    verifier = HubVerifier.from_environ(online=not args.offline)
    checked, unreadable = check_files(index, files, verifier, args.jobs)
    skipped += [Skipped(str(path), why) for path, why in unreadable.items()]
    results: list[Diagnostic] = []
    counts = {"known": 0, "exists": 0, "hallucinated": 0, "unverified": 0}
    for file, (source, findings) in checked.items():
        for finding in findings:
            counts[finding.verdict.status] += 1
        results.extend(diagnostics_for(index, str(file), source, findings=findings))
    if args.format == "json":
        write_json(results + [Diagnostic(s.path, 0, 0, 0, 0, "information", "skipped-file", f"skipped: {s.reason}")
                              for s in skipped])
    else:
        for d in results:
            print(f"{d.path}:{d.line + 1}:{d.character + 1}: {d.severity}: {d.message} [{d.code}]")
        for s in skipped:
            print(f"{s.path}: skipped: {s.reason}", file=sys.stderr)
    mode = "" if verifier.online else " (offline: no hub asked)"
    print(f"{len(checked)} file(s) checked, {len(skipped)} skipped{mode}: {counts['hallucinated']} hallucinated, "
          f"{counts['unverified']} unverified, {counts['exists']} confirmed on a hub, {counts['known']} in the API "
          f"database; {verifier.requests} hub request(s)", file=sys.stderr)
    return EXIT_FOUND if counts["hallucinated"] else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="flag hallucinated hub calls in Python files, like a linter (verifies unknown "
                                     "model ids on their hubs)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_db(p)
    add_format(p)
    p.add_argument("--offline", action="store_true",
                   help="ask no hub; only the API database and this machine's caches are evidence "
                        "(also GORILLA_LSP_OFFLINE=1)")
    p.add_argument("--jobs", type=int, default=16, metavar="N", help="hub requests at once (default 16)")
    p.set_defaults(func=cmd_check)
