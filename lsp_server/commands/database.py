"""`gorilla-lsp index pull|info`: get APIBench, and say what a database holds."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lsp_server.commands.common import EXIT_OK, CliError, add_db, add_format, load_index, write_json


def cmd_index_pull(args: argparse.Namespace) -> int:
    from index.pull import PullError, pull

    source = args.source or os.environ.get("GORILLA_LSP_PULL_FROM") or None
    try:
        report = pull(source=source, dest=Path(args.dest).expanduser() if args.dest else None, url=args.url)
    except PullError as exc:
        raise CliError(str(exc)) from exc
    if args.format == "json":
        write_json(report)
    else:
        print(f"APIBench database in {report.dest} ({report.records} records from {report.source};"
              f" {report.errors} load problems)")
    return EXIT_OK


def cmd_index_info(args: argparse.Namespace) -> int:
    index = load_index(args.api_db)
    db = index.db
    info = {
        "files": db.files,
        "records": len(db.records),
        "apis": len(db.apis),
        "hubs": dict(db.hubs()),
        "problems": [str(e) for e in db.errors],
        "calls": db.repairs(),
        "build_seconds": round(index.build_seconds, 4),
    }
    if args.format == "json":
        write_json(info)
    else:
        print(f"{len(db.records)} records, {len(db.apis)} distinct APIs from {len(db.files)} file(s)")
        for hub, count in sorted(info["hubs"].items()):
            print(f"  {hub}: {count}")
        calls = db.repairs()
        print(f"calls: {calls.repaired} records repaired to run as inserted, {calls.dropped} records"
              f" ({calls.dropped_apis} APIs) never suggested (shell commands, placeholders, undefined helpers)")
        print(f"performance facts: {calls.with_params} records with a parameter count, {calls.with_accuracy} with an"
              f" accuracy, {calls.with_dataset} with a dataset")
        for problem in info["problems"]:
            print(f"  {problem}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="the API database").add_subparsers(dest="index_command", required=True)
    p = index.add_parser("pull", help="download APIBench (or copy a local copy with --from)")
    p.add_argument("--from", dest="source", metavar="DIR",
                   help="copy from a local folder instead of downloading (also $GORILLA_LSP_PULL_FROM)")
    p.add_argument("--dest", metavar="DIR", help="where to put it (default: the user cache directory)")
    p.add_argument("--url", help="base URL of the Gorilla repository's data/ folder")
    add_format(p)
    p.set_defaults(func=cmd_index_pull)
    p = index.add_parser("info", help="what the database holds, and its load problems")
    add_db(p)
    add_format(p)
    p.set_defaults(func=cmd_index_info)
