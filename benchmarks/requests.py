"""Request understanding, before and after: silence for comments that ask for nothing, the right task for requests.

    python benchmarks/requests.py [--before DIR] [--retriever hybrid|bm25|both] [--skip-eval]

`--before DIR`: a checkout of an earlier commit (e.g. `git archive 7821d3b | tar -x -C DIR`), measured the same way
in a subprocess with DIR first on the path. Labelled set: tests/data/comments.jsonl (real comments from public files
with their provenance, and comments written for this project; see tests/data/README.md for the labelling rule and the
dev/held-out split). Each comment is put in a file as `# text` and completed on the line below, as the editor does.

"Silent" is the positive class of the first pair of figures (precision: of the comments left silent, the share that
ask for nothing; recall: of the comments that ask for nothing, the share left silent); "answered" of the second.
Task accuracy counts a request left silent as wrong.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "apibench"
DATA = REPO / "tests" / "data" / "comments.jsonl"
HUBS = (("torchhub", "torchhub_eval.json"), ("huggingface", "huggingface_eval.json"),
        ("tensorflowhub", "tensorflow_eval.json"))
GORILLA_ZERO_SHOT = {"torchhub": None, "huggingface": 71.7, "tensorflowhub": 83.9}  # the paper's published figures


def dump(code: Path, engine: str) -> None:
    """Run the code at `code` over the labelled comments; one JSON line per comment on stdout, then the timings."""
    sys.path.insert(0, str(code))
    from engine.pipeline import CompletionPipeline
    from index.api_index import ApiIndex
    from index.dense import load_default_encoder
    from lsp_server.comments import CommentFinder

    encoder = load_default_encoder() if engine == "hybrid" else None
    index = ApiIndex.load([SHARED / "api"], encoder=encoder)
    pipeline = CompletionPipeline(index)
    finder = CommentFinder()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    for row in rows[:20]:  # warm-up: first calls pay for lazy imports and caches
        pipeline.complete(row["text"])
    times = []
    for row in rows:
        lines = [f"# {row['text']}", ""]
        started = time.perf_counter()
        request = finder.request_at(lines, 1, 0)
        suggestions = pipeline.complete(request.text).suggestions if request is not None else []
        times.append(time.perf_counter() - started)
        print(json.dumps({"suggested": bool(suggestions), "domain": suggestions[0].domain if suggestions else ""}))
    times.sort()
    print(json.dumps({"p50_ms": 1000 * statistics.median(times), "p99_ms": 1000 * times[int(0.99 * (len(times) - 1))]}))


def measure(code: Path, engine: str) -> tuple[list[dict], dict]:
    out = subprocess.run([sys.executable, __file__, "--dump", str(code), "--engine", engine], capture_output=True,
                         text=True, check=True, cwd=code)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return rows[:-1], rows[-1]


def group_of(row: dict) -> str:
    kind = "written" if row["source"].startswith("written") else "real"
    return f"{kind}, {row['split']}"


def pr(hits: int, predicted: int, actual: int) -> tuple[float, float]:
    return (hits / predicted if predicted else 0.0), (hits / actual if actual else 0.0)


def scores(labelled: list[dict], results: list[dict]) -> dict[str, str]:
    """Precision/recall per group and task accuracy per set, as printable cells."""
    from index.tasks import task_of_domain

    out: dict[str, str] = {}
    for group in ("real, dev", "real, heldout", "written, dev", "written, heldout"):
        pairs = [(row, got) for row, got in zip(labelled, results) if group_of(row) == group]
        silent_other = sum(row["label"] == "other" and not got["suggested"] for row, got in pairs)
        silent = sum(not got["suggested"] for _, got in pairs)
        others = sum(row["label"] == "other" for row, _ in pairs)
        answered_request = sum(row["label"] == "request" and got["suggested"] for row, got in pairs)
        answered = sum(got["suggested"] for _, got in pairs)
        requests = sum(row["label"] == "request" for row, _ in pairs)
        sp, sr = pr(silent_other, silent, others)
        ap, ar = pr(answered_request, answered, requests)
        out[f"{group} ({others} other / {requests} requests): silent P / R"] = f"{100 * sp:.1f} / {100 * sr:.1f}"
        out[f"{group} ({others} other / {requests} requests): answered P / R"] = f"{100 * ap:.1f} / {100 * ar:.1f}"
    sets = {
        "written requests_tasks.tsv (dev)": lambda r: "requests_tasks" in r["source"],
        "written requests_heldout.tsv (dev since this round)": lambda r: "requests_heldout.tsv" in r["source"],
        "written requests_heldout2.tsv (held out)": lambda r: "requests_heldout2" in r["source"],
        "real requests, dev": lambda r: not r["source"].startswith("written") and r["split"] == "dev",
        "real requests, held out": lambda r: not r["source"].startswith("written") and r["split"] == "heldout",
    }
    for name, member in sets.items():
        hits = [int(task_of_domain(got["domain"]) in row["task"].split("|"))
                for row, got in zip(labelled, results) if row["label"] == "request" and member(row)]
        if hits:
            out[f"task accuracy, {name} ({len(hits)})"] = f"{100 * sum(hits) / len(hits):.1f}"
    return out


def eval_rows(code: Path, retriever: str) -> dict[tuple[str, str], float]:
    figures = {}
    for hub, questions in HUBS:
        for metric in ("gorilla", "strict"):
            command = [sys.executable, "-m", "lsp_server", "eval", "--api-db", str(SHARED / "api" / f"{hub}_api.jsonl"),
                       "--questions", str(SHARED / "eval" / questions), "--metric", metric, "--format", "json",
                       "--retriever", retriever]
            out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=code,
                                 env={"PYTHONPATH": str(code), "PATH": ""})
            result = json.loads(out.stdout)
            figures[(hub, metric)] = 100 * result["accuracy"]
            if metric == "strict":
                figures[(hub, "domain")] = 100 * result["domain_accuracy"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=("hybrid", "bm25"), default="hybrid", help=argparse.SUPPRESS)
    parser.add_argument("--before", type=Path, help="an earlier checkout to compare with")
    parser.add_argument("--retriever", choices=("hybrid", "bm25", "both"), default="both")
    parser.add_argument("--skip-eval", action="store_true", help="skip the APIBench runs (about a minute each)")
    args = parser.parse_args()
    if args.dump:
        dump(args.dump, args.engine)
        return 0
    sys.path.insert(0, str(REPO))
    labelled = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    codes = [("before", args.before)] if args.before else []
    codes.append(("after", REPO))
    engines = ["hybrid", "bm25"] if args.retriever == "both" else [args.retriever]
    columns = [(name, code, engine) for engine in engines for name, code in codes]
    measured = {(name, engine): measure(code, engine) for name, code, engine in columns}
    table = {key: scores(labelled, rows) for key, (rows, _) in measured.items()}
    heads = [f"{name} ({engine})" for name, _, engine in columns]
    print(f"Labelled comments: {DATA.relative_to(REPO)} ({len(labelled)})")
    print("| measure | " + " | ".join(heads) + " |")
    print("| --- |" + " --- |" * len(heads))
    for key in table[(columns[-1][0], columns[-1][2])]:
        print(f"| {key} | " + " | ".join(table[(n, e)].get(key, "") for n, _, e in columns) + " |")
    print("| completion in process, p50 / p99 ms | " + " | ".join(
        f"{measured[(n, e)][1]['p50_ms']:.1f} / {measured[(n, e)][1]['p99_ms']:.1f}" for n, _, e in columns) + " |")
    if not args.skip_eval:
        for engine in engines:
            figures = {name: eval_rows(code, engine) for name, code in codes}
            print()
            print(f"APIBench, built-in engine ({engine}); Gorilla zero-shot: HF 71.7, TF Hub 83.9")
            print("| hub | " + " | ".join(f"published ({n}) | strict exact ({n}) | strict domain ({n})"
                                          for n, _ in codes) + " | Gorilla zero-shot |")
            print("| --- |" + " --- | --- | --- |" * len(codes) + " --- |")
            for hub, _ in HUBS:
                cells = [f"{figures[n][(hub, 'gorilla')]:.1f} | {figures[n][(hub, 'strict')]:.1f} | "
                         f"{figures[n][(hub, 'domain')]:.1f}" for n, _ in codes]
                zero = GORILLA_ZERO_SHOT[hub]
                print(f"| {hub} | " + " | ".join(cells) + f" | {zero if zero is not None else '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
