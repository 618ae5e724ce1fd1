"""The `gorilla-lsp` subcommands, one module each; every module has `register(subparsers)`.

Each command module owns its arguments and its output; `common` holds what they share (errors, exit codes, the
database and model loading, JSON output, progress).
"""
