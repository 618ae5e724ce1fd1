"""`gorilla-lsp complete TEXT`: suggestions for a request, as the editor would show them."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lsp_server.commands.common import (
    EXIT_OK, add_db, add_format, add_model, add_retriever, load_index, load_model, write_json,
)


def positive_int(text: str) -> int:
    """argparse type for -n: a usage error (exit 2) below 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


_MARKS = {
    "known": "", "exists": "  [not in the API database; confirmed on its hub]",
    "unverified": "  [not in the API database; not verified]", "hallucinated": "  [HALLUCINATED: does not exist]",
}


def cmd_complete(args: argparse.Namespace) -> int:
    from engine.pipeline import CompletionPipeline

    index = load_index(args.api_db, args.retriever)
    model = load_model(args)
    pipeline = CompletionPipeline(index, model)
    hubs = _hubs(args) if model is not None else None
    result = pipeline.complete(
        args.text, n=args.n, top_k=args.top_k, hub=args.hub, hub_filter=args.hub is not None,
        hallucinated=args.hallucinated, hubs=hubs,
    )
    if hubs is not None and hubs.verifier.online:
        # Generated calls the database lacks are asked of their hubs (the command line may wait; the editor never).
        targets = pipeline.pending(result, hubs)
        if targets:
            with ThreadPoolExecutor(max_workers=8, thread_name_prefix="gorilla-verify") as pool:
                list(pool.map(hubs.verifier.verify, targets))
            result = pipeline.rejudge(result, hubs, args.hallucinated)
    if args.format == "json":
        write_json({"engine": result.engine, "request": result.request, "kind": result.kind.kind,
                    "reason": result.kind.reason or None, "tasks": result.tasks, "constraints": result.constraints,
                    "suggestions": result.suggestions, "seconds": result.seconds})
        return EXIT_OK
    engine = result.engine
    described = engine.backend + (f" ({engine.model} on {engine.device}, {engine.compute_type})" if engine.model
                                  else f" ({engine.retriever})" if engine.retriever else "")
    print(f"# engine: {described}; request: {result.request!r}"
          + (f"; task: {', '.join(result.tasks)}" if result.tasks else "")
          + (f"; constraints: {result.constraints.describe()}" if not result.constraints.empty() else ""))
    if not result.kind.is_request:
        print(f"(no suggestion: not an API request: {result.kind.reason})")
        return EXIT_OK
    for i, s in enumerate(result.suggestions, 1):
        print(f"{i}. {s.api_call}{_MARKS.get(s.verdict, '')}")
        if s.evidence:
            print(f"   {s.evidence}")
        extra = f" | constraints {s.constraints.status}" if s.constraints.status != "none" else ""
        print(f"   {s.label} | {s.task or s.domain} | {s.framework} | {s.source} score {s.score:g}{extra}")
        for line in s.imports:
            print(f"   needs: {line}")
        if s.placeholders:
            print(f"   fill in: {', '.join(s.placeholders)}")
    if not result.suggestions:
        print("(no suggestion: the request matches no API in the database)")
    return EXIT_OK


def _hubs(args: argparse.Namespace):  # -> HubCheck
    from index.checker import HubCheck
    from index.hubs import HubVerifier

    return HubCheck(HubVerifier.from_environ(online=not args.offline), (Path.cwd(),))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("complete", help="API call suggestions for a request")
    p.add_argument("text", help="the request, e.g. '# segment people in a video, under 10M parameters'; a comment "
                   "that asks for nothing (a TODO, a pragma, a licence line) gets no suggestion, as in the editor")
    add_db(p)
    p.add_argument("-n", type=positive_int, default=5, help="number of suggestions, at least 1 (default 5)")
    p.add_argument("--top-k", type=int, default=5, help="documents retrieved for the model's prompt")
    p.add_argument("--hub", choices=["torchhub", "huggingface", "tensorflowhub"], help="only this hub's APIs")
    p.add_argument("--hallucinated", choices=["warn", "hide"], default="warn",
                   help="keep generated calls that do not exist (marked) or hide them")
    p.add_argument("--offline", action="store_true",
                   help="judge generated calls the database lacks without asking their hubs (also GORILLA_LSP_OFFLINE=1)")
    add_retriever(p)
    add_model(p)
    add_format(p)
    p.set_defaults(func=cmd_complete)
