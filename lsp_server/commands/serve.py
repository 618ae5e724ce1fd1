"""`gorilla-lsp serve`: the language server (stdio by default)."""

from __future__ import annotations

import argparse

from lsp_server.commands.common import add_db


def cmd_serve(args: argparse.Namespace) -> int:
    from lsp_server.server import run_server

    return run_server(args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the language server")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default; accepted for clients"
                   " that always pass it)")
    p.add_argument("--log-file", metavar="FILE", help="log to a file instead of stderr")
    p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="more logging (-vv: debug); also accepted before `serve`")
    add_db(p)
    p.set_defaults(func=cmd_serve)
