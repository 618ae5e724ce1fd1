"""Benchmark of the CTranslate2 sentence encoder (index/encoder.py).

Run: ``python benchmarks/encoder.py [--apibench DIR] [--threads N] [--queries N]``.
Prints a markdown table: conversion time, load time with a warm cache, single-query
latency (p50/p99), time to embed every APIBench record, embedding-cache hit time and peak
RSS. Everything is written to a temporary directory; the user cache is not touched.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.encoder import (  # noqa: E402
    EmbeddingCache,
    SentenceEncoder,
    convert_bert_encoder,
    default_encoder_dir,
    locate_minilm,
)

log = logging.getLogger("benchmarks.encoder")
T = TypeVar("T")

QUERIES = [
    "load a pretrained image classifier",
    "translate english to german",
    "detect objects in an image",
    "transcribe speech audio to text",
    "sentence embeddings for semantic search",
    "segment a photo into regions",
    "summarize a long news article",
    "generate images from a text prompt",
]


def _field(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def iter_records(apibench: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((apibench / "api").glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def record_text(rec: dict[str, Any]) -> str:
    """domain, functionality, api_name, description: the retrieval text of a record."""
    return ". ".join(
        _field(rec.get(k)) for k in ("domain", "functionality", "api_name", "description") if rec.get(k)
    )


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


_SERVE = """
import json, sys, time
start = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from index.encoder import SentenceEncoder, default_encoder_dir
enc = SentenceEncoder(default_encoder_dir(sys.argv[2]), intra_threads=int(sys.argv[4]))
load_s = time.perf_counter() - start
sys.path.insert(0, sys.argv[1] + "/benchmarks")
from encoder import iter_records, record_text, peak_rss_mb
from pathlib import Path
enc.encode([record_text(r) for r in iter_records(Path(sys.argv[3]))])
print(json.dumps({"load_s": load_s, "rss_mb": peak_rss_mb()}))
"""


def _serving_process(cache: Path, apibench: Path, threads: int) -> dict[str, float]:
    """What a server start costs: a new interpreter loading the cached int8 model."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _SERVE, str(ROOT), str(cache), str(apibench), str(threads)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apibench", type=Path, default=ROOT.parent / "shared" / "apibench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200, help="single-query runs for p50/p99")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    src = locate_minilm()
    texts = [record_text(r) for r in iter_records(args.apibench)]
    if not texts:
        parser.error(f"no APIBench records under {args.apibench / 'api'}")
    rows: list[tuple[str, str]] = []

    with tempfile.TemporaryDirectory(prefix="gorilla-enc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        _, t_f32 = timed(lambda: convert_bert_encoder(src, tmp / "f32"))
        rows.append(("conversion, float32 weights", f"{t_f32 * 1000:.0f} ms"))
        _, t_i8 = timed(lambda: convert_bert_encoder(src, tmp / "i8", quantization="int8"))
        rows.append(("conversion, int8 weights", f"{t_i8 * 1000:.0f} ms"))

        cache = tmp / "cache"
        _, t_cold = timed(lambda: default_encoder_dir(cache))
        rows.append(("default_encoder_dir, cold (fingerprint + convert)", f"{t_cold * 1000:.0f} ms"))
        model_dir, t_warm_dir = timed(lambda: default_encoder_dir(cache))
        enc, t_load = timed(lambda: SentenceEncoder(model_dir, compute_type="int8", intra_threads=args.threads))
        rows.append(("load, warm cache: default_encoder_dir (fingerprint)", f"{t_warm_dir * 1000:.0f} ms"))
        rows.append(("load, warm cache: SentenceEncoder(int8)", f"{t_load * 1000:.0f} ms"))

        enc.encode(QUERIES)  # warm-up
        lat = []
        for i in range(args.queries):
            _, t = timed(lambda i=i: enc.encode([QUERIES[i % len(QUERIES)]]))
            lat.append(t * 1000)
        lat.sort()
        p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
        rows.append(
            (f"single short query, int8, {args.threads} threads: p50 / p99",
             f"{statistics.median(lat):.2f} / {p99:.2f} ms")
        )

        n_tokens = sum(enc.token_counts(texts))
        vecs, t_all = timed(lambda: enc.encode(texts, batch_size=args.batch_size))
        _, t_again = timed(lambda: enc.encode(texts, batch_size=args.batch_size))
        rows.append(
            (f"embed all {len(texts)} APIBench records ({n_tokens} tokens), int8, batch "
             f"{args.batch_size}: first / second pass",
             f"{t_all:.2f} / {t_again:.2f} s ({min(t_all, t_again) / len(texts) * 1000:.2f} ms/record)")
        )
        f32 = SentenceEncoder(tmp / "f32", compute_type="float32", intra_threads=args.threads)
        _, t_all32 = timed(functools.partial(f32.encode, texts, batch_size=args.batch_size))
        rows.append(
            (f"embed all {len(texts)} APIBench records, float32", f"{t_all32:.2f} s")
        )
        del f32

        store = EmbeddingCache(tmp / "records.npy")
        _, t_miss = timed(lambda: store.get_or_compute(texts, enc))
        _, t_hit = timed(lambda: store.get_or_compute(texts, enc))
        rows.append(("EmbeddingCache miss (embed + write)", f"{t_miss:.2f} s"))
        rows.append(("EmbeddingCache hit (hash texts + load + verify)", f"{t_hit * 1000:.1f} ms"))
        rows.append(("embedding matrix", f"{vecs.shape[0]} x {vecs.shape[1]} float32, "
                                         f"{vecs.nbytes / 1e6:.1f} MB"))
        rows.append(("model.bin size float32 / int8",
                     f"{(tmp / 'f32' / 'model.bin').stat().st_size / 1e6:.0f} / "
                     f"{(tmp / 'i8' / 'model.bin').stat().st_size / 1e6:.0f} MB"))
        serve = _serving_process(cache, args.apibench, args.threads)
        rows.append(("fresh process, warm cache: import + default_encoder_dir + load",
                     f"{serve['load_s'] * 1000:.0f} ms"))
        rows.append(("fresh process: peak RSS after load + embedding all records (int8)",
                     f"{serve['rss_mb']:.0f} MB"))
        rows.append(("peak RSS of this benchmark (includes float32 conversions)", f"{peak_rss_mb():.0f} MB"))

    print(f"all-MiniLM-L6-v2 on CTranslate2 (source: {src})\n")
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
