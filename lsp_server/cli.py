"""`gorilla-lsp`: the command line (database pull, complete, check, eval, serve, model convert).

Exit codes: 0 success; 1 `check` found hallucinated calls; 2 usage error; 3 bad or missing data (API database,
questions, responses); 4 model error. Each subcommand lives in its own module under `lsp_server.commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lsp_server.commands import check, complete, database, evaluate, model, serve
from lsp_server.commands.common import EXIT_OK, CliError, setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gorilla-lsp", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (database, complete, check, evaluate, serve, model):
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, getattr(args, "log_file", None))
    try:
        return args.func(args)
    except CliError as exc:
        print(f"gorilla-lsp: error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
