"""The built-in engine (no model) on APIBench's eval split, per hub, BM25 alone and hybrid; its latency and memory.

    python benchmarks/retrieval.py

Accuracy is `gorilla-lsp eval`'s (the published metric, and the strict one beside it); top-5 is the share of
questions whose reference API is among the first five suggestions.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "apibench"
HUBS = (("torchhub", "torchhub_eval.json", 75.8), ("huggingface", "huggingface_eval.json", 71.7),
        ("tensorflowhub", "tensorflow_eval.json", 83.9))


def accuracy_rows(encoder) -> list[str]:  # noqa: ANN001
    from engine.pipeline import CompletionPipeline, answer_questions
    from index.api_index import ApiIndex
    from index.evaluation import Evaluator, load_questions

    rows = []
    for hub, eval_file, bar in HUBS:
        index = ApiIndex.load([SHARED / "api" / f"{hub}_api.jsonl"], encoder=encoder)
        evaluator = Evaluator(index.db, hub)
        questions = load_questions(SHARED / "eval" / eval_file)
        responses, top5 = answer_questions(CompletionPipeline(index), questions, hub)
        gorilla = evaluator.run(questions, responses, "gorilla")
        strict = evaluator.run(questions, responses, "strict")
        rows.append(
            f"| {hub} | {index.retriever.name} | {100 * gorilla.accuracy:.1f} | {100 * gorilla.hallucination:.2f} |"
            f" {100 * strict.accuracy:.1f} | {100 * strict.domain_accuracy:.1f} | {100 * strict.hallucination:.2f} |"
            f" {100 * top5:.1f} | above {bar} | {'yes' if 100 * gorilla.accuracy > bar else 'NO'} |"
        )
    return rows


def latency() -> list[str]:
    from index.api_index import ApiIndex
    from index.dense import load_default_encoder
    from index.evaluation import load_questions

    started = time.perf_counter()
    encoder = load_default_encoder()
    index = ApiIndex.load([SHARED / "api"], encoder=encoder)
    warm = time.perf_counter() - started
    texts = [q.text for _, f, _ in HUBS for q in load_questions(SHARED / "eval" / f)][:500]
    times = []
    for text in texts:
        t = time.perf_counter()
        index.retriever.top(index.retriever.scores(text), 5)
        times.append(time.perf_counter() - t)
    times.sort()
    p50, p99 = statistics.median(times) * 1000, times[int(0.99 * (len(times) - 1))] * 1000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        f"| query (embed + BM25 + fuse + top-5), 1,726 records | p50 {p50:.1f} ms, p99 {p99:.1f} ms | p50 <= 10 ms |"
        f" {'yes' if p50 <= 10 else 'NO'} |",
        f"| encoder + database + indexes loaded, warm cache | {warm:.2f} s | < 1.5 s | {'yes' if warm < 1.5 else 'NO'} |",
        f"| peak memory with the encoder | {rss:.0f} MB | < 400 MB | {'yes' if rss < 400 else 'NO'} |",
    ]


def embed_all() -> str:
    """Embedding every record from scratch (what the first start pays once)."""
    from index.database import ApiDatabase
    from index.dense import load_default_encoder, record_text

    encoder = load_default_encoder()
    texts = [record_text(r) for r in ApiDatabase.load([SHARED / "api"]).records]
    started = time.perf_counter()
    encoder.encode(texts)
    seconds = time.perf_counter() - started
    return f"| embedding all {len(texts)} records, once (int8, 2 cores) | {seconds:.1f} s | <= 60 s | {'yes' if seconds <= 60 else 'NO'} |"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--latency":
        print("\n".join(latency()))
        return 0
    from index.dense import load_default_encoder

    print("| hub | retriever | accuracy (published metric) | hallucination | strict exact | strict domain |"
          " strict hallucination | top-5 recall | goal | met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in accuracy_rows(None) + accuracy_rows(load_default_encoder()):
        print(row)
    print()
    print("| measure | value | goal | met |")
    print("| --- | --- | --- | --- |")
    print(embed_all())
    # A fresh process, so start time and memory are what a server sees.
    out = subprocess.run([sys.executable, __file__, "--latency"], capture_output=True, text=True, check=True)
    print(out.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
