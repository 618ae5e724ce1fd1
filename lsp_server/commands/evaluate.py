"""`gorilla-lsp eval`: APIBench scores of published answers, or of our own engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from lsp_server.commands.common import (
    EXIT_OK, CliError, add_db, add_format, add_model, add_retriever, load_index, load_model, progress_bar,
    write_json,
)


def cmd_eval(args: argparse.Namespace) -> int:
    from index.evaluation import EvalError, Evaluator, hub_of_path, load_questions, load_responses

    index = load_index(args.api_db, args.retriever if not args.responses else "bm25")
    hub = args.hub or hub_of_path(Path(args.questions), index.db)
    try:
        questions = load_questions(Path(args.questions))
        if args.responses:
            responses = load_responses(Path(args.responses))
            top5 = None
        else:
            responses, top5 = _engine_responses(index, questions, hub, args)
        result = Evaluator(index.db, hub).run(questions, responses, args.metric, progress=progress_bar(len(responses)))
    except EvalError as exc:
        raise CliError(str(exc)) from exc
    result.top5 = top5
    if args.format == "json":
        write_json(result)
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

    pipeline = CompletionPipeline(index, load_model(args))
    return answer_questions(pipeline, questions, hub, args.top_k, progress_bar(len(questions)))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="APIBench evaluation of a responses file, or of our engine")
    add_db(p)
    p.add_argument("--questions", required=True, metavar="EVAL", help="an APIBench eval file (JSON lines)")
    p.add_argument("--responses", metavar="FILE", help="answers to score (JSON lines); default: our engine answers")
    p.add_argument("--metric", choices=["gorilla", "strict"], default="gorilla")
    p.add_argument("--hub", choices=["torchhub", "huggingface", "tensorflowhub"],
                   help="which hub's procedure (default: from the questions file name)")
    p.add_argument("--top-k", type=int, default=5)
    add_retriever(p)
    add_model(p)
    add_format(p)
    p.set_defaults(func=cmd_eval)
