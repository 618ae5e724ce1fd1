"""What every subcommand shares: exit codes, the user-facing error, logging, JSON output, loading the index."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from engine.model_source import ModelSource
    from index.api_index import ApiIndex
    from index.database import ApiDatabase

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_MODEL = 4

log = logging.getLogger("gorilla_lsp")


class CliError(Exception):
    """A user error: printed as one line, no traceback, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_DATA) -> None:
        super().__init__(message)
        self.code = code


def setup_logging(verbose: int, log_file: str | None = None) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)  # libraries that set their own logger level (bm25s) still obey -v
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def write_json(data: object) -> None:
    sys.stdout.write(msgspec.json.encode(data).decode() + "\n")


def load_database(api_db: Sequence[str] | None) -> ApiDatabase:
    """The API database from `--api-db`, `GORILLA_LSP_API_DB` or the pulled copy; a clear error when none loads."""
    from index.database import ApiDatabase, default_database_paths

    paths = default_database_paths(api_db)
    missing = [p for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        hint = "run `gorilla-lsp index pull` first, or pass --api-db FILE_OR_DIR (or set GORILLA_LSP_API_DB)"
        raise CliError(f"no API database at {', '.join(str(p) for p in missing)}: {hint}")
    db = ApiDatabase.load(paths)
    errors = [e for e in db.errors if e.severity == "error"]
    if errors:
        log.warning("%d record(s) could not be loaded; first: %s", len(errors), errors[0])
    if not db.apis:
        raise CliError(f"the API database at {', '.join(map(str, paths))} holds no loadable record")
    return db


def load_index(api_db: Sequence[str] | None, retriever: str = "bm25") -> ApiIndex:
    """The database with its retriever and checker (hybrid retrieval when asked and installed)."""
    from index.api_index import ApiIndex
    from index.dense import load_encoder_or_none

    return ApiIndex(load_database(api_db), load_encoder_or_none(retriever))


def load_model(args: argparse.Namespace) -> ModelSource | None:
    if not getattr(args, "model", None):
        return None
    from engine.errors import ModelLoadError
    from engine.model_source import load_model_source

    try:
        return load_model_source(args.model, args.device, args.compute_type, args.template)
    except ModelLoadError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc


def progress_bar(total: int) -> Callable[[int], None] | None:
    """A progress bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        if done == total or done % 25 == 0:
            width = 30
            filled = width * done // max(total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return show


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-db", action="append", metavar="PATH",
                        help="API file or directory (repeatable); default: $GORILLA_LSP_API_DB, then the pulled copy")


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text")


def add_retriever(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retriever", choices=["hybrid", "bm25"], default="hybrid",
                        help="hybrid: BM25 + sentence encoder (default); bm25: lexical only")


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="a CTranslate2-converted Gorilla model directory")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--compute-type", default="auto", help="auto, int8, int8_float16, float16, float32, ...")
    parser.add_argument("--template", default="gorilla-v0", help="prompt template preset")
