"""`gorilla-lsp`: the command line (database pull, complete, check, eval, serve, model convert).

Exit codes: 0 success; 1 `check` found hallucinated calls; 2 usage error; 3 bad or missing data (API database,
questions, responses); 4 model error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_MODEL = 4

log = logging.getLogger("gorilla_lsp")


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_DATA) -> None:
        super().__init__(message)
        self.code = code


def _setup_logging(verbose: int, log_file: str | None = None) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)  # libraries that set their own logger level (bm25s) still obey -v
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _write(data: object) -> None:
    sys.stdout.write(msgspec.json.encode(data).decode() + "\n")


def load_encoder(retriever: str):  # -> TextEncoder | None
    """The sentence encoder for hybrid retrieval, or None (BM25 alone) when asked or when it is not installed."""
    if retriever != "hybrid":
        return None
    from index.dense import load_default_encoder
    from index.encoder import EncoderError

    try:
        return load_default_encoder()
    except EncoderError as exc:
        log.warning("dense retrieval unavailable, using BM25 alone: %s", exc)
        return None


def _load_index(api_db: Sequence[str] | None, retriever: str = "bm25"):  # -> ApiIndex
    from index.api_index import ApiIndex
    from index.database import default_database_paths

    paths = default_database_paths(api_db)
    missing = [p for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        hint = "run `gorilla-lsp index pull` first, or pass --api-db FILE_OR_DIR (or set GORILLA_LSP_API_DB)"
        raise CliError(f"no API database at {', '.join(str(p) for p in missing)}: {hint}")
    index = ApiIndex.load(paths, encoder=load_encoder(retriever))
    errors = [e for e in index.db.errors if e.severity == "error"]
    if errors:
        log.warning("%d record(s) could not be loaded; first: %s", len(errors), errors[0])
    if not index.db.apis:
        raise CliError(f"the API database at {', '.join(map(str, paths))} holds no loadable record")
    return index


def _load_model(args: argparse.Namespace):  # -> ModelSource | None
    if not getattr(args, "model", None):
        return None
    from engine.errors import ModelLoadError
    from engine.model_source import load_model_source

    try:
        return load_model_source(args.model, args.device, args.compute_type, args.template)
    except ModelLoadError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc


# --- index -------------------------------------------------------------------------------------------------------

def cmd_index_pull(args: argparse.Namespace) -> int:
    from index.pull import PullError, pull

    source = args.source or os.environ.get("GORILLA_LSP_PULL_FROM") or None
    try:
        report = pull(source=source, dest=Path(args.dest).expanduser() if args.dest else None, url=args.url)
    except PullError as exc:
        raise CliError(str(exc)) from exc
    if args.format == "json":
        _write(report)
    else:
        print(f"APIBench database in {report.dest} ({report.records} records from {report.source};"
              f" {report.errors} load problems)")
    return EXIT_OK


def cmd_index_info(args: argparse.Namespace) -> int:
    index = _load_index(args.api_db)
    db = index.db
    info = {
        "files": db.files,
        "records": len(db.records),
        "apis": len(db.apis),
        "hubs": dict(db.hubs()),
        "problems": [str(e) for e in db.errors],
        "build_seconds": round(index.build_seconds, 4),
    }
    if args.format == "json":
        _write(info)
    else:
        print(f"{len(db.records)} records, {len(db.apis)} distinct APIs from {len(db.files)} file(s)")
        for hub, count in sorted(info["hubs"].items()):
            print(f"  {hub}: {count}")
        for problem in info["problems"]:
            print(f"  {problem}")
    return EXIT_OK


# --- complete ----------------------------------------------------------------------------------------------------

def cmd_complete(args: argparse.Namespace) -> int:
    from engine.pipeline import CompletionPipeline

    index = _load_index(args.api_db, args.retriever)
    pipeline = CompletionPipeline(index, _load_model(args))
    result = pipeline.complete(
        args.text, n=args.n, top_k=args.top_k, hub=args.hub, hub_filter=args.hub is not None,
        hallucinated=args.hallucinated,
    )
    if args.format == "json":
        _write({"engine": result.engine, "request": result.request, "constraints": result.constraints,
                "suggestions": result.suggestions, "seconds": result.seconds})
        return EXIT_OK
    engine = result.engine
    described = engine.backend + (f" ({engine.model} on {engine.device}, {engine.compute_type})" if engine.model
                                  else f" ({engine.retriever})" if engine.retriever else "")
    print(f"# engine: {described}; request: {result.request!r}"
          + (f"; constraints: {result.constraints.describe()}" if not result.constraints.empty() else ""))
    for i, s in enumerate(result.suggestions, 1):
        mark = "" if s.verdict == "known" else "  [HALLUCINATED: not in the API database]"
        print(f"{i}. {s.api_call}{mark}")
        extra = f" | constraints {s.constraints.status}" if s.constraints.status != "none" else ""
        print(f"   {s.api_name} | {s.domain} | {s.framework} | {s.source} score {s.score:g}{extra}")
    if not result.suggestions:
        print("(no suggestion: the request matches no API in the database)")
    return EXIT_OK


# --- check -------------------------------------------------------------------------------------------------------

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
    """Hallucinated-call diagnostics for one file (0-based lines, characters in code points)."""
    from index.positions import byte_to_column

    lines = source.split(b"\n")
    found: list[Diagnostic] = []
    for finding in index.checker.findings(source):
        verdict = finding.verdict
        if verdict.status != "hallucinated":
            continue
        (row, col), (end_row, end_col) = finding.call.start, finding.call.end
        found.append(
            Diagnostic(
                path=path, line=row, character=byte_to_column(lines[row], col), end_line=end_row,
                end_character=byte_to_column(lines[end_row], end_col), severity="warning",
                code="hallucinated-api", message=index.checker.message(finding),
                suggestions=index.checker.alternative_calls(verdict),
            )
        )
    return found


def cmd_check(args: argparse.Namespace) -> int:
    index = _load_index(args.api_db)
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
        _write(results)
    else:
        for d in results:
            print(f"{d.path}:{d.line + 1}:{d.character + 1}: {d.severity}: {d.message} [{d.code}]")
        if not results:
            print(f"{len(files)} file(s) checked: no hallucinated API call", file=sys.stderr)
    return EXIT_FOUND if results else EXIT_OK


# --- eval --------------------------------------------------------------------------------------------------------

def _progress(total: int) -> Callable[[int], None] | None:
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


def cmd_eval(args: argparse.Namespace) -> int:
    from index.evaluation import EvalError, Evaluator, hub_of_path, load_questions, load_responses

    index = _load_index(args.api_db, args.retriever if not args.responses else "bm25")
    hub = args.hub or hub_of_path(Path(args.questions), index.db)
    try:
        questions = load_questions(Path(args.questions))
        if args.responses:
            responses = load_responses(Path(args.responses))
            top5 = None
        else:
            responses, top5 = _engine_responses(index, questions, hub, args)
        result = Evaluator(index.db, hub).run(questions, responses, args.metric, progress=_progress(len(responses)))
    except EvalError as exc:
        raise CliError(str(exc)) from exc
    result.top5 = top5
    if args.format == "json":
        _write(result)
    else:
        line = (f"{hub}: n={result.n} accuracy={100 * result.accuracy:.2f}% "
                f"hallucination={100 * result.hallucination:.2f}% error={100 * result.error:.2f}% "
                f"metric={result.metric} ({result.seconds:.2f}s)")
        if result.domain_accuracy is not None:
            line += f" domain-accuracy={100 * result.domain_accuracy:.2f}%"
        if top5 is not None:
            line += f" top5-recall={100 * top5:.2f}%"
        print(line)
    return EXIT_OK


def _engine_responses(index, questions, hub: str, args: argparse.Namespace):
    from engine.pipeline import CompletionPipeline, answer_questions

    pipeline = CompletionPipeline(index, _load_model(args))
    return answer_questions(pipeline, questions, hub, args.top_k, _progress(len(questions)))


# --- serve / model -----------------------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    from lsp_server.server import run_server

    return run_server(args)


def cmd_model_convert(args: argparse.Namespace) -> int:
    from engine.convert import convert_model
    from engine.errors import EngineError

    try:
        result = convert_model(args.src, args.out, quantization=args.quantization, force=args.force,
                               trust_remote_code=args.trust_remote_code)
    except EngineError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc
    print(f"converted {result.source} into {result.output_dir} in {result.seconds:.0f} s")
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------------------------------

def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-db", action="append", metavar="PATH",
                        help="API file or directory (repeatable); default: $GORILLA_LSP_API_DB, then the pulled copy")


def _add_retriever(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retriever", choices=["hybrid", "bm25"], default="hybrid",
                        help="hybrid: BM25 + sentence encoder (default); bm25: lexical only")


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="a CTranslate2-converted Gorilla model directory")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--compute-type", default="auto", help="auto, int8, int8_float16, float16, float32, ...")
    parser.add_argument("--template", default="gorilla-v0", help="prompt template preset")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gorilla-lsp", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="the API database").add_subparsers(dest="index_command", required=True)
    p = index.add_parser("pull", help="download APIBench (or copy a local copy with --from)")
    p.add_argument("--from", dest="source", metavar="DIR",
                   help="copy from a local folder instead of downloading (also $GORILLA_LSP_PULL_FROM)")
    p.add_argument("--dest", metavar="DIR", help="where to put it (default: the user cache directory)")
    p.add_argument("--url", help="base URL of the Gorilla repository's data/ folder")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_index_pull)
    p = index.add_parser("info", help="what the database holds, and its load problems")
    _add_db(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_index_info)

    p = sub.add_parser("complete", help="API call suggestions for a request")
    p.add_argument("text", help="the request, e.g. '# segment people in a video, under 10M parameters'")
    _add_db(p)
    p.add_argument("-n", type=int, default=5, help="number of suggestions (default 5)")
    p.add_argument("--top-k", type=int, default=5, help="documents retrieved for the model's prompt")
    p.add_argument("--hub", choices=["torchhub", "huggingface", "tensorflowhub"], help="only this hub's APIs")
    p.add_argument("--hallucinated", choices=["warn", "hide"], default="warn",
                   help="keep generated calls that match no API (marked) or hide them")
    _add_retriever(p)
    _add_model(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("check", help="flag hallucinated hub calls in Python files, like a linter")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _add_db(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", help="APIBench evaluation of a responses file, or of our engine")
    _add_db(p)
    p.add_argument("--questions", required=True, metavar="EVAL", help="an APIBench eval file (JSON lines)")
    p.add_argument("--responses", metavar="FILE", help="answers to score (JSON lines); default: our engine answers")
    p.add_argument("--metric", choices=["gorilla", "strict"], default="gorilla")
    p.add_argument("--hub", choices=["torchhub", "huggingface", "tensorflowhub"],
                   help="which hub's procedure (default: from the questions file name)")
    p.add_argument("--top-k", type=int, default=5)
    _add_retriever(p)
    _add_model(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="run the language server")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default; accepted for clients"
                   " that always pass it)")
    p.add_argument("--log-file", metavar="FILE", help="log to a file instead of stderr")
    p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="more logging (-vv: debug); also accepted before `serve`")
    _add_db(p)
    p.set_defaults(func=cmd_serve)

    model = sub.add_parser("model", help="Gorilla models").add_subparsers(dest="model_command", required=True)
    p = model.add_parser("convert", help="convert a Hugging Face checkpoint to CTranslate2 (needs the [convert] extra)")
    p.add_argument("src", help="a Hugging Face model id or local directory")
    p.add_argument("out", help="output directory")
    p.add_argument("--quantization", help="int8, int8_float16, float16, ...")
    p.add_argument("--force", action="store_true", help="overwrite OUT")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow the checkpoint's own model code (gorilla-falcon and gorilla-mpt need it)")
    p.set_defaults(func=cmd_model_convert)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, getattr(args, "log_file", None))
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
