"""Request understanding, before and after: silence for comments that ask for nothing, the right task for requests.

    python benchmarks/requests.py [--before DIR] [--skip-eval]

`--before DIR`: a checkout of an earlier commit (e.g. `git archive 7821d3b | tar -x -C DIR`), measured the same way
in a subprocess with DIR first on the path. Labelled set: tests/data/comments.jsonl (real comments from public files
with their provenance, and requests written for this project with their task; see tests/data/README.md). Each
comment is put in a file as `# text` and completed on the line below, as the editor does.
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


def dump(code: Path) -> None:
    """Run the code at `code` over the labelled comments; one JSON line per comment on stdout."""
    sys.path.insert(0, str(code))
    from engine.pipeline import CompletionPipeline
    from index.api_index import ApiIndex
    from index.dense import load_default_encoder
    from lsp_server.comments import CommentFinder

    index = ApiIndex.load([SHARED / "api"], encoder=load_default_encoder())
    pipeline = CompletionPipeline(index)
    finder = CommentFinder()
    times = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        lines = [f"# {row['text']}", ""]
        started = time.perf_counter()
        request = finder.request_at(lines, 1, 0)
        suggestions = pipeline.complete(request.text).suggestions if request is not None else []
        times.append(time.perf_counter() - started)
        print(json.dumps({"suggested": bool(suggestions), "domain": suggestions[0].domain if suggestions else ""}))
    times.sort()
    print(json.dumps({"p50_ms": 1000 * statistics.median(times), "p99_ms": 1000 * times[int(0.99 * (len(times) - 1))]}))


def measure(code: Path) -> tuple[list[dict], dict]:
    out = subprocess.run([sys.executable, __file__, "--dump", str(code)], capture_output=True, text=True, check=True,
                         cwd=code)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return rows[:-1], rows[-1]


def scores(results: list[dict]) -> dict[str, float]:
    from index.tasks import task_of_domain

    labelled = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    tp = fp = fn = 0
    tasks: dict[str, list[int]] = {}
    for row, got in zip(labelled, results):
        silent = not got["suggested"]
        if row["label"] == "other":
            tp += silent
            fn += not silent
        else:
            fp += silent
            name = "held-out" if "heldout" in row["source"] else "development"
            tasks.setdefault(name, []).append(int(task_of_domain(got["domain"]) == row["task"]))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    out = {"precision": precision, "recall": recall, "requests answered": 1 - fp / sum(1 for r in labelled if r["label"] == "request")}
    for name, hits in tasks.items():
        out[f"task accuracy, {name} requests ({len(hits)})"] = sum(hits) / len(hits)
    return out


def eval_rows(code: Path) -> dict[tuple[str, str], float]:
    figures = {}
    for hub, questions in HUBS:
        for metric in ("gorilla", "strict"):
            out = subprocess.run(
                [sys.executable, "-m", "lsp_server", "eval", "--api-db", str(SHARED / "api" / f"{hub}_api.jsonl"),
                 "--questions", str(SHARED / "eval" / questions), "--metric", metric, "--format", "json"],
                capture_output=True, text=True, check=True, cwd=code, env={"PYTHONPATH": str(code), "PATH": ""},
            )
            result = json.loads(out.stdout)
            figures[(hub, metric)] = 100 * result["accuracy"]
            if metric == "strict":
                figures[(hub, "domain")] = 100 * result["domain_accuracy"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--before", type=Path, help="an earlier checkout to compare with")
    parser.add_argument("--skip-eval", action="store_true", help="skip the APIBench runs (about a minute each)")
    args = parser.parse_args()
    if args.dump:
        dump(args.dump)
        return 0
    sys.path.insert(0, str(REPO))
    codes = [("before", args.before)] if args.before else []
    codes.append(("after", REPO))
    measured = {name: measure(code) for name, code in codes}
    table = {name: scores(rows) for name, (rows, _) in measured.items()}
    names = [name for name, _ in codes]
    print(f"Labelled comments: {DATA.relative_to(REPO)}")
    print("| measure | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for key in table[names[-1]]:
        print(f"| {key} | " + " | ".join(f"{100 * table[n].get(key, 0):.1f}" for n in names) + " |")
    for name in names:
        p50, p99 = measured[name][1]["p50_ms"], measured[name][1]["p99_ms"]
        print(f"| completion in process, p50 / p99 ms ({name}) | {p50:.1f} / {p99:.1f} |")
    if not args.skip_eval:
        figures = {name: eval_rows(code) for name, code in codes}
        print()
        print("| hub | " + " | ".join(f"published ({n}) | strict exact ({n}) | strict domain ({n})" for n in names) + " |")
        print("| --- |" + " --- | --- | --- |" * len(names))
        for hub, _ in HUBS:
            cells = [f"{figures[n][(hub, 'gorilla')]:.1f} | {figures[n][(hub, 'strict')]:.1f} | {figures[n][(hub, 'domain')]:.1f}"
                     for n in names]
            print(f"| {hub} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
