"""`gorilla-lsp check PATH...`: hallucinated hub calls in Python files, reported like a linter."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from lsp_server.commands.common import EXIT_FOUND, EXIT_OK, CliError, add_db, add_format, load_index, write_json


class Diagnostic(msgspec.Struct):
    path: str
    line: int
    character: int
    end_line: int
    end_character: int
    severity: str
    code: str
    message: str
    suggestions: list[str]


def diagnostics_for(index, path: str, source: bytes) -> list[Diagnostic]:  # index: ApiIndex
    """Hallucinated-call diagnostics for one file (0-based lines as the LSP counts them, characters in code points).

    A long file is checked in pieces (`index.chunked`: memory follows a piece, not the file); positions come from
    byte offsets through `index.positions`, as in the server, whatever the file's line ends.
    """
    from index import chunked
    from index.calls import for_parser
    from index.positions import ByteMapper, Lines

    hallucinated = [f for f in chunked.findings(index.checker, for_parser(source))
                    if f.verdict.status == "hallucinated"]
    if not hallucinated:
        return []
    where = ByteMapper(Lines(source.decode("utf-8", "surrogateescape")), source, "utf-32", "surrogateescape").positions(
        offset for f in hallucinated for offset in (f.call.start_byte, f.call.end_byte))
    found: list[Diagnostic] = []
    for finding in hallucinated:
        (line, character), (end_line, end_character) = where[finding.call.start_byte], where[finding.call.end_byte]
        found.append(
            Diagnostic(
                path=path, line=line, character=character, end_line=end_line, end_character=end_character,
                severity="warning", code="hallucinated-api", message=index.checker.message(finding),
                suggestions=index.checker.alternative_calls(finding.verdict),
            )
        )
    return found


def cmd_check(args: argparse.Namespace) -> int:
    index = load_index(args.api_db)
    files: list[Path] = []
    for name in args.paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            files.append(path)
        else:
            raise CliError(f"{name}: no such file or directory")
    results: list[Diagnostic] = []
    for file in files:
        try:
            source = file.read_bytes()
        except OSError as exc:
            raise CliError(f"{file}: cannot read: {exc.strerror or exc}") from exc
        results.extend(diagnostics_for(index, str(file), source))
    if args.format == "json":
        write_json(results)
    else:
        for d in results:
            print(f"{d.path}:{d.line + 1}:{d.character + 1}: {d.severity}: {d.message} [{d.code}]")
        if not results:
            print(f"{len(files)} file(s) checked: no hallucinated API call", file=sys.stderr)
    return EXIT_FOUND if results else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="flag hallucinated hub calls in Python files, like a linter")
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_db(p)
    add_format(p)
    p.set_defaults(func=cmd_check)
