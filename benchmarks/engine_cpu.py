"""CPU speed of the engine with random-weight tiny models: time to first token and tokens/s.

Run: ``python benchmarks/engine_cpu.py [--threads N] [--new-tokens N]``. Prints a markdown
table. The models are built on the fly with `engine.tiny_model` (random weights, so the
text is noise; only speed is measured) and decoded through `GorillaGenerator`, the same
code path the language server uses (streaming callback, stop policy, cancellation checks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]

from engine.generator import GenerationOptions, GorillaGenerator
from engine.prompts import render
from engine.stopping import NO_STOP
from engine.tiny_model import DecoderGeometry, build_tiny_model

GEOMETRIES: dict[str, DecoderGeometry] = {
    "tiny (tests)": DecoderGeometry(),
    "small": DecoderGeometry(num_layers=4, num_heads=8, hidden_size=256, ffn_size=688, vocab_size=2048),
}
RECORD = {
    "domain": "Classification",
    "framework": "PyTorch",
    "functionality": "Image Classification",
    "api_name": "ResNet50",
    "api_call": "torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50', pretrained=True)",
    "api_arguments": {"repo_or_dir": "pytorch/vision", "model": "resnet50", "pretrained": "True"},
    "python_environment_requirements": ["torch", "torchvision"],
    "performance": {"dataset": "ImageNet", "accuracy": {"top_1": 76.13, "top_5": 92.86}},
    "description": "ResNet-50 is a 50-layer residual network pretrained on ImageNet for image classification.",
}
REQUEST = "I need a pretrained model to classify photos of dogs and cats into breeds."


def fixed(n: int, **kwargs: object) -> GenerationOptions:
    return GenerationOptions(max_new_tokens=n, min_new_tokens=n, stop=NO_STOP, **kwargs)  # type: ignore[arg-type]


def time_to_first_token(gen: GorillaGenerator, prompt: str, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        with gen.stream(prompt, fixed(32, strategy="greedy")) as stream:
            next(iter(stream))
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def decode_rate(gen: GorillaGenerator, prompts: list[str], options: GenerationOptions, repeats: int) -> float:
    """Generated tokens per second after the first token, over all candidates of the batch."""
    rates = []
    for _ in range(repeats):
        results = gen.generate_batch(prompts, options)
        tokens = sum(r.generated_tokens for r in results)
        first = min(r.time_to_first_token_s or 0.0 for r in results)
        rows = len(prompts) * options.num_candidates
        rates.append((tokens - rows) / max(results[0].elapsed_s - first, 1e-9))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="intra_threads (default 2)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, geometry in GEOMETRIES.items():
            info = build_tiny_model(Path(tmp) / name.split()[0], geometry=geometry, seed=7)
            for compute_type in ("int8", "float32"):
                with GorillaGenerator(
                    info.path, device="cpu", compute_type=compute_type, intra_threads=args.threads
                ) as gen:
                    prompt = render("gorilla-v0", REQUEST, [RECORD])
                    prompt_tokens = gen.count_tokens(prompt)
                    gen.generate(prompt, fixed(8))  # warm-up
                    ttft = time_to_first_token(gen, prompt, args.repeats)
                    n = args.new_tokens
                    b1 = decode_rate(gen, [prompt], fixed(n, strategy="greedy"), args.repeats)
                    n4 = decode_rate(gen, [prompt], fixed(n, num_candidates=4), args.repeats)
                    r4 = decode_rate(gen, [prompt] * 4, fixed(n, strategy="greedy"), args.repeats)
                    rows.append(
                        (
                            name,
                            f"{geometry.parameter_count() / 1e6:.2f}M",
                            gen.info().compute_type,
                            prompt_tokens,
                            f"{ttft * 1000:.1f}",
                            f"{b1:.0f}",
                            f"{n4:.0f}",
                            f"{r4:.0f}",
                        )
                    )

    header = (
        "model",
        "params",
        "compute_type",
        "prompt tokens",
        "TTFT ms (median)",
        "tok/s batch 1",
        "tok/s 4 candidates",
        "tok/s 4 requests batched",
    )
    print(f"CPU, intra_threads={args.threads}, {args.new_tokens} new tokens, median of {args.repeats}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print()
    pipeline_overhead()


class _Timed:
    """The real model source, with the time spent inside it recorded (to subtract generation from the total)."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.seconds = 0.0

    def info(self):  # noqa: ANN201
        return self.source.info()

    def candidates(self, request, documents, n, cancelled):  # noqa: ANN001, ANN201
        started = time.perf_counter()
        try:
            return self.source.candidates(request, documents, n, cancelled)
        finally:
            self.seconds += time.perf_counter() - started


def pipeline_overhead(repeats: int = 200) -> None:
    """What the pipeline adds around generation: constraints, retrieval, prompt, answer parsing, AST check, ranking."""
    import tempfile

    from engine.model_source import load_model_source
    from engine.pipeline import CompletionPipeline
    from engine.tiny_model import build_scripted_model
    from index.api_index import ApiIndex

    answer = "<<<api_call>>>: torch.hub.load('pytorch/vision', 'resnet50', pretrained=True), <<<api_provider>>>: PyTorch"
    index = ApiIndex.load([REPO.parent / "shared" / "apibench" / "api"])
    with tempfile.TemporaryDirectory() as tmp:
        source = load_model_source(build_scripted_model(Path(tmp) / "m", answer).path, device="cpu")
        timed = _Timed(source)
        pipeline = CompletionPipeline(index, timed)
        requests = ["classify images of dogs, under 30M parameters", "segment people in a video",
                    "translate english text to german", "detect objects in street photos"]
        overheads, prompts = [], []
        for i in range(repeats):
            request = requests[i % len(requests)]
            timed.seconds = 0.0
            started = time.perf_counter()
            result = pipeline.complete(request, n=5, top_k=3)
            overheads.append((time.perf_counter() - started - timed.seconds) * 1000)
            assert result.suggestions[0].source == "model" and result.suggestions[0].verdict == "known"
            documents = [index.db.apis[s.api].document() for s in result.suggestions[:3] if s.api is not None]
            started = time.perf_counter()
            source.generator.build_prompt(request, documents)  # tokenizer counts and the context budget
            prompts.append((time.perf_counter() - started) * 1000)
        source.close()
    total = sorted(o + p for o, p in zip(overheads, prompts))
    p50 = statistics.median(total)
    print("| pipeline overhead around generation | p50 | p99 | goal |")
    print("|---|---|---|---|")
    print(f"| retrieval (BM25) + constraints + answer parsing + AST check + ranking | {statistics.median(overheads):.2f} ms"
          f" | {sorted(overheads)[int(0.99 * (repeats - 1))]:.2f} ms | |")
    print(f"| prompt (template, token count, budget) | {statistics.median(prompts):.2f} ms |"
          f" {sorted(prompts)[int(0.99 * (repeats - 1))]:.2f} ms | |")
    print(f"| all of it, per request | {p50:.2f} ms | {total[int(0.99 * (repeats - 1))]:.2f} ms |"
          f" < 5 ms: {'yes' if p50 < 5 else 'NO'} |")


if __name__ == "__main__":
    main()
