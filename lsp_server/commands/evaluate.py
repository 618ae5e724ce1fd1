"""`gorilla-lsp eval`: APIBench scores of published answers (one file or many in one run), or of our own engine.

Each responses file is scored against its own questions file (given as `QUESTIONS=RESPONSES`, by `--questions`, or
found by the hub prefix of its name) and against its hub's records only, as the published procedure does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from lsp_server.commands.common import (
    EXIT_OK, EXIT_USAGE, CliError, add_db, add_format, add_model, add_retriever, load_database, load_index,
    load_model, progress_bar, write_json,
)


class EvalJob(msgspec.Struct, frozen=True):
    questions: Path
    responses: Path | None  # None: our engine answers the questions


def _responses_files(spec: str) -> list[tuple[Path | None, Path]]:
    """(questions or None, responses) for one `--responses` value: FILE, DIR or QUESTIONS=RESPONSES."""
    left, sep, right = spec.partition("=")
    if sep and not Path(spec).exists():
        return [(Path(left), Path(right))]
    path = Path(spec)
    if not path.exists():
        raise CliError(f"{spec}: no such responses file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".jsonl", ".json") and p.is_file())
        if not files:
            raise CliError(f"{path}: no .jsonl responses file in this folder")
        return [(None, f) for f in files]
    return [(None, path)]


def _question_folders(args: argparse.Namespace, responses: Path, db_paths: Sequence[Path]) -> list[Path]:
    """Where a responses file's questions may be: --questions DIR, else an eval/ folder beside the responses or
    the database (APIBench's layout: api/, eval/, responses/), else the copy `index pull` made."""
    from index.pull import default_dest

    if args.questions:
        return [Path(args.questions)]
    folders = [responses.parent.parent / "eval", responses.parent / "eval"]
    for path in db_paths:
        folders += [path / "eval", path.parent / "eval"] if path.is_dir() else [path.parent.parent / "eval"]
    folders.append(default_dest() / "eval")
    unique: list[Path] = []
    for folder in folders:
        if folder.is_dir() and folder.resolve() not in {u.resolve() for u in unique}:
            unique.append(folder)
    return unique


def plan_jobs(args: argparse.Namespace, db_paths: Sequence[Path]) -> list[EvalJob]:
    from index.evaluation import questions_file_for

    if not args.responses:
        if not args.questions:
            raise CliError("--questions is required when our engine answers (no --responses)", EXIT_USAGE)
        questions = Path(args.questions)
        if questions.is_dir():
            files = sorted(questions.glob("*_eval.json"))
            if not files:
                raise CliError(f"{questions}: no *_eval.json questions file in this folder")
            return [EvalJob(q, None) for q in files]
        return [EvalJob(questions, None)]
    jobs: list[EvalJob] = []
    for spec in args.responses:
        for questions, responses in _responses_files(spec):
            if questions is None:
                given = Path(args.questions) if args.questions else None
                questions = given if given is not None and not given.is_dir() else questions_file_for(
                    responses, _question_folders(args, responses, db_paths))
            jobs.append(EvalJob(questions, responses))
    return jobs


def cmd_eval(args: argparse.Namespace) -> int:
    from index.database import default_database_paths
    from index.evaluation import EvalError, EvalResult, Evaluator, load_questions, load_responses, questions_hub

    started = time.perf_counter()
    metrics = ["gorilla", "strict"] if args.metric == "both" else [args.metric]
    try:
        if args.jobs < 1:
            raise CliError(f"--jobs must be at least 1, got {args.jobs}", EXIT_USAGE)
        jobs = plan_jobs(args, default_database_paths(args.api_db))
        engine_answers = any(j.responses is None for j in jobs)
        # Scoring published answers needs the database only; our engine answering needs its retriever too.
        index = load_index(args.api_db, args.retriever) if engine_answers else None
        db = index.db if index is not None else load_database(args.api_db)
        questions_of: dict[Path, list] = {}  # eight answer files share one questions file
        loaded = []
        for job in jobs:
            if job.questions not in questions_of:
                questions_of[job.questions] = load_questions(job.questions)
            questions = questions_of[job.questions]
            responses = load_responses(job.responses) if job.responses is not None else None
            hub = args.hub or questions_hub(questions, job.questions, db)
            loaded.append((job, hub, questions, responses))
        evaluators: dict[str, Evaluator] = {}
        for _, hub, _, responses in loaded:
            if hub not in evaluators:
                evaluators[hub] = Evaluator(db, hub)
        if "gorilla" in metrics:
            for hub, evaluator in evaluators.items():
                evaluator.prime([r for _, h, _, rs in loaded if h == hub and rs for r in rs], args.jobs)
        total = sum(len(r) if r is not None else len(q) for _, _, q, r in loaded) * len(metrics)
        tick = _Ticker(progress_bar(total))
        results: list[EvalResult] = []
        for job, hub, questions, responses in loaded:
            top5 = None
            if responses is None:
                responses, top5 = _engine_responses(index, questions, hub, args, tick)
            evaluator = evaluators[hub]
            for metric in metrics:
                result = evaluator.run(questions, responses, metric, progress=tick.offset())
                result.top5 = top5
                result.questions = str(job.questions)
                result.responses = str(job.responses) if job.responses is not None else None
                results.append(result)
    except EvalError as exc:
        raise CliError(str(exc)) from exc
    seconds = time.perf_counter() - started
    if args.format == "json":
        write_json(results[0] if len(results) == 1 else results)
    elif len(results) == 1:
        print(_line(results[0]))
    else:
        _print_table(results, metrics)
        print(f"{len(jobs)} file(s) scored in {seconds:.2f} s (database load included)", file=sys.stderr)
    return EXIT_OK


class _Ticker:
    """One progress bar over every file and metric of the run."""

    def __init__(self, show: Callable[[int], None] | None) -> None:
        self.show = show
        self.done = 0

    def offset(self) -> Callable[[int], None] | None:
        if self.show is None:
            return None
        base = self.done

        def step(done: int) -> None:
            self.done = base + done
            assert self.show is not None
            self.show(self.done)

        return step


def _line(result) -> str:  # result: EvalResult
    line = (f"{result.hub}: n={result.n} accuracy={100 * result.accuracy:.2f}% "
            f"hallucination={100 * result.hallucination:.2f}% error={100 * result.error:.2f}% "
            f"metric={result.metric} ({result.seconds:.2f}s)")
    if result.domain_accuracy is not None:
        line += f" domain-accuracy={100 * result.domain_accuracy:.2f}%"
    if result.top5 is not None:
        line += f" top5-recall={100 * result.top5:.2f}%"
    return line


def _print_table(results, metrics: list[str]) -> None:
    """One row per responses file; with both metrics, the published and the strict figures side by side."""
    header = ["responses", "hub", "n"]
    if "gorilla" in metrics:
        header += ["accuracy", "hallucination", "error"] if len(metrics) == 1 else ["published acc", "published hal"]
    if "strict" in metrics:
        header += ["exact API", "domain", "hallucination"] if len(metrics) == 1 else \
            ["strict exact", "strict domain", "strict hal"]
    rows: list[list[str]] = []
    for i in range(0, len(results), len(metrics)):
        group = results[i : i + len(metrics)]
        first = group[0]
        name = Path(first.responses).stem if first.responses else f"engine: {Path(first.questions or '').stem}"
        row = [name, first.hub or "", str(first.n)]
        for result in group:
            if result.metric == "gorilla":
                row += [_pct(result.accuracy), _pct(result.hallucination)]
                if len(metrics) == 1:
                    row.append(_pct(result.error))
            else:
                row += [_pct(result.accuracy), _pct(result.domain_accuracy or 0.0), _pct(result.hallucination)]
        rows.append(row)
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths))))


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _engine_responses(index, questions, hub: str, args: argparse.Namespace, tick: _Ticker):
    from engine.pipeline import CompletionPipeline, answer_questions

    pipeline = CompletionPipeline(index, load_model(args))
    return answer_questions(pipeline, questions, hub, args.top_k, tick.offset())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="APIBench evaluation of responses files (several in one run), or of our engine",
        description="Score answers to APIBench questions. Each responses file is scored against its hub's records "
        "and its own questions: QUESTIONS=RESPONSES, --questions FILE, or the eval file named by its hub prefix "
        "(torchhub_, huggingface_, tensorflowhub_) found in --questions DIR, in an eval/ folder beside the responses "
        "or the database, or in the pulled copy.",
    )
    add_db(p)
    p.add_argument("--questions", metavar="EVAL",
                   help="an APIBench eval file (JSON lines), or a folder of them (found by hub prefix)")
    p.add_argument("--responses", action="append", metavar="FILE|DIR|Q=R",
                   help="answers to score (JSON lines): a file, a folder of files, or QUESTIONS=RESPONSES; "
                   "repeatable. Default: our engine answers the questions")
    p.add_argument("--metric", choices=["gorilla", "strict", "both"], default="gorilla",
                   help="gorilla: the published procedure; strict: by call identity; both: side by side")
    p.add_argument("--hub", choices=["torchhub", "huggingface", "tensorflowhub"],
                   help="which hub's procedure (default: the hub of the questions' reference records)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 8), metavar="N",
                   help="processes that match answers in parallel (default: the CPU count, at most 8)")
    add_retriever(p)
    add_model(p)
    add_format(p)
    p.set_defaults(func=cmd_eval)
