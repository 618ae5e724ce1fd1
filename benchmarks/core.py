"""Core benchmarks: database load, retrieval latency at scale, AST checking, the 24-file evaluation.

    python benchmarks/core.py            # all cases, a markdown table
    python benchmarks/core.py --quick    # 1M-API retrieval skipped (it takes a minute and ~4 GB)

Each case runs in its own process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "apibench"
EVAL_FILES = {"torchhub": "torchhub_eval.json", "huggingface": "huggingface_eval.json",
              "tensorflowhub": "tensorflow_eval.json"}


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def case_load() -> dict[str, object]:
    from index.api_index import ApiIndex
    from index.calls import PythonCalls

    parser = PythonCalls()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        index = ApiIndex.load([SHARED / "api"], parser)
        times.append(time.perf_counter() - started)
    return {"what": f"load + index build, APIBench ({len(index.db.records)} records, {len(index.db.apis)} APIs)",
            "value": f"median {statistics.median(times) * 1000:.0f} ms", "goal": "< 500 ms",
            "ok": statistics.median(times) < 0.5, "peak_mb": _peak_mb()}


def _questions() -> list[str]:
    from index.evaluation import load_questions

    return [q.text for f in EVAL_FILES.values() for q in load_questions(SHARED / "eval" / f)]


def case_query(size: int) -> dict[str, object]:
    """Query latency (tokenize + score + top-5) over `size` APIs made from the real records."""
    from index.database import ApiDatabase
    from index.retrieval import Bm25Retriever, document_tokens

    db = ApiDatabase.load([SHARED / "api"])
    base = [document_tokens(r) for r in db.records]
    hubs = [r.hub for r in db.records]
    if size <= len(base):
        retriever = Bm25Retriever.from_database(db)
        label = f"{len(db.apis)} APIs (APIBench)"
    else:
        # Synthetic APIs: each real record again under a new model name, so the vocabulary grows as it would.
        started = time.perf_counter()
        tokens = [base[i % len(base)] + [f"variant{i}", f"model{i % 50021}"] for i in range(size)]
        retriever = Bm25Retriever(tokens, list(range(size)), [hubs[i % len(hubs)] for i in range(size)])
        label = f"{size:,} APIs (synthetic, built in {time.perf_counter() - started:.0f} s)"
    questions = _questions()
    latencies = []
    for text in questions[:1000]:
        started = time.perf_counter()
        retriever.top(retriever.scores(text), 5)
        latencies.append(time.perf_counter() - started)
    p50, p99 = _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000
    goal = 1.0 if size <= 2000 else 20.0 if size >= 1_000_000 else None
    return {"what": f"query p50 / p99, {label}", "value": f"{p50:.2f} / {p99:.2f} ms",
            "goal": f"p50 <= {goal:g} ms" if goal else "-", "ok": p50 <= goal if goal else True,
            "peak_mb": _peak_mb()}


def case_check() -> dict[str, object]:
    from index.api_index import ApiIndex

    index = ApiIndex.load([SHARED / "api"])
    calls = [a.api_call for a in index.db.apis if index.db.identities[index.db.apis.index(a)] is not None][:400]
    lines = ["import torch", "import tensorflow_hub as hub", "from transformers import pipeline, AutoModel"]
    for i, call in enumerate(calls * 5):
        lines.append(f"m{i} = {call}")
        lines.append(f"x{i} = torch.hub.load('pytorch/vision', 'invented_{i % 97}')")
        lines.append(f"print(m{i}, x{i})  # not a loader")
    source = "\n".join(lines)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        findings = list(index.checker.findings(source))
        runs.append(time.perf_counter() - started)
    best = min(runs)
    return {"what": f"AST check: {len(findings)} loader calls in a {len(lines)}-line file",
            "value": f"{len(findings) / best:,.0f} calls/s ({best * 1000:.0f} ms a pass)", "goal": "-",
            "ok": True, "peak_mb": _peak_mb()}


def _eval_cli(*extra: str, runs: int = 5) -> dict[str, object]:
    """`gorilla-lsp eval` over the 24 published answer files in ONE run, as a user runs it: a fresh process, the
    whole APIBench folder as the database, start-up and loading included (median wall time of `runs`)."""
    command = [sys.executable, "-m", "lsp_server", "eval", "--api-db", str(SHARED / "api"),
               "--responses", str(SHARED / "responses"), *extra]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    return {"what": f"24-file `gorilla-lsp eval` in one run, whole folder, {' '.join(extra) or 'default'}"
                    " (published scripts: ~27 s)",
            "value": f"{seconds:.2f} s median of {runs} ({27 / seconds:.0f}x faster)", "goal": ">= 20x (<= 1.35 s)",
            "ok": seconds <= 1.35, "peak_mb": _peak_mb()}


CASES = {
    "load": case_load,
    "query-1.7k": lambda: case_query(0),
    "query-100k": lambda: case_query(100_000),
    "query-1m": lambda: case_query(1_000_000),
    "check": case_check,
    "eval": lambda: _eval_cli(),
    "eval-1-job": lambda: _eval_cli("--jobs", "1"),
    "eval-both-metrics": lambda: _eval_cli("--metric", "both"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), help="run one case in this process, print JSON")
    parser.add_argument("--quick", action="store_true", help="skip the 1M-API retrieval case")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case]()))
        return 0
    rows = []
    for name in CASES:
        if args.quick and name == "query-1m":
            continue
        out = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            rows.append({"what": name, "value": "FAILED: " + out.stderr.strip().splitlines()[-1], "goal": "-",
                         "ok": False, "peak_mb": 0})
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| case | measured | goal | met | peak RSS |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['what']} | {row['value']} | {row['goal']} | {'yes' if row['ok'] else 'NO'} |"
              f" {row['peak_mb']:.0f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
