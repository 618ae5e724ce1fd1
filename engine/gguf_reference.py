"""A numpy forward pass of a GGUF decoder, and the check that a conversion computes the same logits.

Why: a wrong conversion can still load and generate (the rotary layout trap produces fluent-looking blank lines), so
`model convert --verify` runs the same tokens through CTranslate2 and through this reference and compares logits.

The reference reads the file's own tensors as llama.cpp uses them, not the converter's output: for ``llama`` the Q/K
rows stay in llama.cpp's permuted order and rotary embeddings rotate adjacent pairs (llama.cpp's "normal" rope);
for ``qwen2`` they rotate the two halves (NEOX). A mistake in the converter's un-permutation therefore shows up as a
difference instead of being copied into both sides. Layers are computed one at a time over the whole sequence, so
memory stays at one layer's weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from engine.errors import ConversionError
from engine.gguf_model import GGUFModel

logger = logging.getLogger(__name__)

VERIFY_PROMPT = ("The capital of France is Paris. Machine learning models such as ResNet-50 classify images; "
                 "import torch and load one with torch.hub.load(")
"""Teacher-forced before the generated tokens: a longer sequence exercises more rotary positions."""


class VerificationError(ConversionError):
    """The converted model's logits disagree with the reference beyond what quantization explains."""


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """How closely CTranslate2 matches the reference on the same tokens."""

    tokens: int
    generated: str
    """What CTranslate2 generated greedily after the prompt (the tokens compared include it)."""
    compute_type: str
    max_abs_diff: float
    mean_abs_diff: float
    logit_range: float
    """Largest absolute reference logit (for scale)."""
    correlation: float
    """Mean over positions of the Pearson correlation between the two logit vectors: the pass criterion."""
    top1_agreement: float
    """Share of positions where both pick the same next token."""
    ok: bool

    def describe(self) -> str:
        return (f"{self.tokens} tokens ({self.compute_type}): largest logit difference {self.max_abs_diff:.4g} "
                f"(mean {self.mean_abs_diff:.3g}, logits up to {self.logit_range:.3g}), logit correlation "
                f"{self.correlation:.6f}, same next token at {100 * self.top1_agreement:.0f}% of positions; "
                f"generated {self.generated!r}")


def _rms_norm(x: np.ndarray, gamma: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * gamma


def _rope(x: np.ndarray, base: float, scale: float, pairs_adjacent: bool) -> np.ndarray:
    """Rotary embeddings on ``x`` (positions, heads, head_dim) with positions multiplied by ``scale``."""
    positions, _, dim = x.shape
    inv = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = (np.arange(positions, dtype=np.float64) * scale)[:, None] * inv[None, :]
    cos = np.cos(angles)[:, None, :].astype(np.float32)
    sin = np.sin(angles)[:, None, :].astype(np.float32)
    if pairs_adjacent:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out
    half = dim // 2
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def reference_logits(model: GGUFModel, token_ids: Sequence[int]) -> np.ndarray:
    """Logits (positions, vocabulary) of the GGUF decoder for ``token_ids``, computed in float32 with numpy."""
    c = model.config
    ids = np.asarray(token_ids, dtype=np.int64)
    n = len(ids)
    h = model.tensor("token_embd.weight")[ids].astype(np.float32)
    mask = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)
    group = c.num_heads // c.num_kv_heads
    scale = 1.0 / c.rope_scaling_factor if c.rope_scaling == "linear" else 1.0
    for i in range(c.num_layers):
        p = f"blk.{i}."
        x = _rms_norm(h, model.tensor(p + "attn_norm.weight"), c.norm_epsilon)
        q = x @ model.tensor(p + "attn_q.weight").T
        k = x @ model.tensor(p + "attn_k.weight").T
        v = x @ model.tensor(p + "attn_v.weight").T
        if c.attention_bias:
            q, k, v = (q + model.tensor(p + "attn_q.bias"), k + model.tensor(p + "attn_k.bias"),
                       v + model.tensor(p + "attn_v.bias"))
        q = _rope(q.reshape(n, c.num_heads, c.head_dim), c.rope_base, scale, c.permuted_qk)
        k = _rope(k.reshape(n, c.num_kv_heads, c.head_dim), c.rope_base, scale, c.permuted_qk)
        v = v.reshape(n, c.num_kv_heads, c.head_dim)
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(c.head_dim) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attended = np.einsum("hqk,khd->qhd", scores, v).reshape(n, c.num_heads * c.head_dim)
        h = h + attended @ model.tensor(p + "attn_output.weight").T
        x = _rms_norm(h, model.tensor(p + "ffn_norm.weight"), c.norm_epsilon)
        gate = x @ model.tensor(p + "ffn_gate.weight").T
        up = x @ model.tensor(p + "ffn_up.weight").T
        h = h + ((gate / (1.0 + np.exp(-gate))) * up) @ model.tensor(p + "ffn_down.weight").T
    h = _rms_norm(h, model.tensor("output_norm.weight"), c.norm_epsilon)
    output = model.tensor("token_embd.weight" if c.tied_embeddings else "output.weight")
    return (h @ output.T).astype(np.float32)


def least_correlation(compute_type: str) -> float:
    """The mean logit correlation a correct conversion reaches with this compute type.

    Measured on SmolLM2-135M (Q4_1) and 35 tokens: float32 1 - 1e-12; int8 0.979 (weights rounded a second time and
    activations quantized); with the Q/K rows left permuted (the rotary trap) 0.84 in float32 and 0.81 in int8.
    """
    if compute_type.startswith("int8") or compute_type == "int16":
        return 0.92
    if compute_type in ("float16", "bfloat16"):
        return 0.995
    return 0.9999


def verify_conversion(gguf_path: str | Path, model_dir: str | Path, *, prompt: str = VERIFY_PROMPT,
                      new_tokens: int = 8, compute_type: str = "default",
                      quantization: str | None = None) -> VerifyReport:
    """Run ``prompt`` plus ``new_tokens`` greedy tokens through CTranslate2 and the reference; compare logits.

    ``quantization`` is the type the weights were stored in (the tolerance follows the coarser of it and the compute
    type: a bfloat16 model computed in float32 on a CPU still carries bfloat16 rounding).

    Raises `VerificationError` (with the figures) when the difference is far beyond what the weight type explains,
    as with a wrong rotary layout; returns the report otherwise.
    """
    import ctranslate2

    from engine.generator import load_tokenizer

    model = GGUFModel(gguf_path)
    tokenizer = load_tokenizer(Path(model_dir))
    generator = ctranslate2.Generator(str(model_dir), device="cpu", compute_type=compute_type)
    try:
        prompt_ids = list(tokenizer(prompt).input_ids)
        tokens = tokenizer.convert_ids_to_tokens(prompt_ids)
        result = generator.generate_batch([tokens], max_length=new_tokens, sampling_topk=1,
                                          include_prompt_in_result=False)[0]
        ids = prompt_ids + list(result.sequences_ids[0])
        converted = np.asarray(generator.forward_batch([tokenizer.convert_ids_to_tokens(ids)]))[0]
        actual_type = str(generator.compute_type)
    finally:
        del generator
    expected = reference_logits(model, ids)
    vocab = min(expected.shape[1], converted.shape[1])
    converted, expected = converted[:, :vocab], expected[:, :vocab]
    diff = np.abs(converted - expected)
    correlation = float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(converted, expected, strict=True)]))
    least = min(least_correlation(actual_type), least_correlation(quantization or actual_type))
    report = VerifyReport(
        tokens=len(ids), generated=str(tokenizer.decode(result.sequences_ids[0])), compute_type=actual_type,
        max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()), logit_range=float(np.abs(expected).max()),
        correlation=correlation, top1_agreement=float(np.mean(converted.argmax(-1) == expected.argmax(-1))),
        ok=bool(np.isfinite(correlation) and correlation >= least),
    )
    logger.info("verify %s: %s", model_dir, report.describe())
    if not report.ok:
        raise VerificationError(
            f"the converted model in {model_dir} does not compute what {gguf_path} does: {report.describe()}; "
            f"a correct {actual_type} conversion reaches a logit correlation of at least {least} (a wrong rotary "
            "layout or tensor mapping?)")
    return report
