"""Tiny GGUF model files written by the tests with `gguf.GGUFWriter`, and the weights they should read back as.

Types the `gguf` package can quantize are quantized with `gguf.quants.quantize`. It cannot quantize the k-quants
(Q4_K, Q5_K, Q6_K), so those blocks are packed here by hand from random integers and scales, following ggml's block
layouts (``block_q4_K`` / ``block_q5_K`` / ``block_q6_K`` in ggml-common.h), with the values they stand for computed
independently of the package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import gguf
import msgspec
import numpy as np
from gguf import GGMLQuantizationType as Q

PACKAGE_QUANTIZED = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1")
HAND_PACKED = ("Q4_K", "Q5_K", "Q6_K")
TENSOR_TYPES = PACKAGE_QUANTIZED + HAND_PACKED
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CORPUS = [
    "The capital of France is Paris. The cat sat on the mat.",
    "import torch\nmodel = torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)",
    "pipeline('fill-mask', model='bert-base-uncased') classifies text; hub.KerasLayer loads TF Hub models.",
    "Machine learning models classify images, detect objects and translate English to German 12345.",
]


class TinyGeometry(msgspec.Struct, frozen=True, kw_only=True):
    architecture: str = "llama"
    layers: int = 2
    hidden: int = 64
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 96
    tied: bool = True
    bias: bool = False
    rope_base: float = 10000.0
    rope_scaling: str | None = None
    rope_factor: float = 1.0
    tensor_type: str = "F32"


def _f16(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16)


def _k_scales(sc: np.ndarray, m: np.ndarray) -> np.ndarray:
    """ggml's 12-byte packing of eight 6-bit scales and eight 6-bit mins (inverse of get_scale_min_k4)."""
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    for j in range(4):
        out[:, j] = (sc[:, j] & 63) | ((sc[:, j + 4] >> 4) << 6)
        out[:, j + 4] = (m[:, j] & 63) | ((m[:, j + 4] >> 4) << 6)
        out[:, j + 8] = (sc[:, j + 4] & 15) | ((m[:, j + 4] & 15) << 4)
    return out


def pack_k_quant(kind: str, rows: int, cols: int, rng: np.random.Generator, step: float = 2e-4
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Random k-quant blocks for a (rows, cols) matrix: (raw bytes as the file stores them, the float32 values)."""
    assert cols % 256 == 0
    blocks = rows * cols // 256
    d = _f16(rng.uniform(0.5, 1.0, blocks) * step)
    if kind in ("Q4_K", "Q5_K"):
        bits = 4 if kind == "Q4_K" else 5
        dmin = _f16(rng.uniform(0.5, 1.0, blocks) * step)
        sc = rng.integers(0, 64, (blocks, 8)).astype(np.uint8)
        m = rng.integers(0, 64, (blocks, 8)).astype(np.uint8)
        q = rng.integers(0, 2**bits, (blocks, 256)).astype(np.uint8)
        qs = np.zeros((blocks, 128), dtype=np.uint8)
        qh = np.zeros((blocks, 32), dtype=np.uint8)
        for c in range(4):
            lo, hi = q[:, 64 * c:64 * c + 32], q[:, 64 * c + 32:64 * c + 64]
            qs[:, 32 * c:32 * c + 32] = (lo & 15) | ((hi & 15) << 4)
            qh |= (((lo >> 4) & 1) << (2 * c)) | (((hi >> 4) & 1) << (2 * c + 1))
        sub = np.repeat(np.arange(8), 32)
        values = (d.astype(np.float32)[:, None] * sc[:, sub].astype(np.float32) * q.astype(np.float32)
                  - dmin.astype(np.float32)[:, None] * m[:, sub].astype(np.float32))
        parts = [d.view(np.uint8).reshape(blocks, 2), dmin.view(np.uint8).reshape(blocks, 2), _k_scales(sc, m)]
        parts += [qh, qs] if kind == "Q5_K" else [qs]
    elif kind == "Q6_K":
        sc = rng.integers(-128, 128, (blocks, 16)).astype(np.int8)
        u = rng.integers(0, 64, (blocks, 256)).astype(np.uint8)
        ql = np.zeros((blocks, 128), dtype=np.uint8)
        qh = np.zeros((blocks, 64), dtype=np.uint8)
        for n in range(2):
            h = u[:, 128 * n:128 * n + 128]
            ql[:, 64 * n:64 * n + 32] = (h[:, 0:32] & 15) | ((h[:, 64:96] & 15) << 4)
            ql[:, 64 * n + 32:64 * n + 64] = (h[:, 32:64] & 15) | ((h[:, 96:128] & 15) << 4)
            qh[:, 32 * n:32 * n + 32] = ((h[:, 0:32] >> 4) | ((h[:, 32:64] >> 4) << 2) | ((h[:, 64:96] >> 4) << 4)
                                         | ((h[:, 96:128] >> 4) << 6))
        scale_of = np.repeat(np.arange(16), 16)
        values = (d.astype(np.float32)[:, None] * sc[:, scale_of].astype(np.float32)
                  * (u.astype(np.float32) - 32))
        parts = [ql, qh, sc.view(np.uint8), d.view(np.uint8).reshape(blocks, 2)]
    else:
        raise ValueError(kind)
    raw = np.concatenate(parts, axis=1).reshape(rows, -1)
    assert raw.shape[1] == cols // 256 * gguf.GGML_QUANT_SIZES[Q[kind]][1]
    return raw, values.reshape(rows, cols).astype(np.float32)


def encode(values: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(what to write, the float32 values a reader must get back) for a matrix stored as ``kind``."""
    if kind in HAND_PACKED:
        return pack_k_quant(kind, values.shape[0], values.shape[1], rng)
    raw = gguf.quants.quantize(values, Q[kind])
    return raw, gguf.quants.dequantize(raw, Q[kind]).astype(np.float32).reshape(values.shape)


def byte_level_vocabulary(size: int = 320, corpus: Iterable[str] = CORPUS) -> tuple[list[str], list[str], object]:
    """A byte-level BPE trained on ``corpus``: (tokens in id order, merges as "a b", the `tokenizers` original)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=size, special_tokens=list(SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(list(corpus) * 20, trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    tokens = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, merges, tokenizer


def write_tiny_gguf(path: Path, geometry: TinyGeometry = TinyGeometry(), *, seed: int = 0,
                    tokens: list[str] | None = None, merges: list[str] | None = None,
                    skip: tuple[str, ...] = (), extra: dict[str, object] | None = None,
                    pre: str | None = "gpt2", token_types: list[int] | None = None) -> dict[str, np.ndarray]:
    """Write a random-weight decoder with a byte-level BPE vocabulary; return its tensors as a reader must see them.

    ``skip`` leaves tensors out, ``extra`` adds metadata (str, int, float, or a list of str) or replaces keys.
    """
    g = geometry
    rng = np.random.default_rng(seed)
    if tokens is None:
        tokens, merges, _ = byte_level_vocabulary()
    arch, head_dim = g.architecture, g.hidden // g.heads
    writer = gguf.GGUFWriter(str(path), arch)
    metadata: dict[str, object] = {
        f"{arch}.block_count": g.layers, f"{arch}.context_length": 256, f"{arch}.embedding_length": g.hidden,
        f"{arch}.feed_forward_length": g.ffn, f"{arch}.attention.head_count": g.heads,
        f"{arch}.attention.head_count_kv": g.kv_heads, f"{arch}.rope.freq_base": g.rope_base,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-5, "general.name": "tiny test model",
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0, "tokenizer.ggml.add_bos_token": False,
        "tokenizer.chat_template": CHATML,
    }
    if pre is not None:
        metadata["tokenizer.ggml.pre"] = pre
    if g.rope_scaling is not None:
        metadata[f"{arch}.rope.scaling.type"] = g.rope_scaling
        metadata[f"{arch}.rope.scaling.factor"] = g.rope_factor
    metadata.update(extra or {})
    for key, value in metadata.items():
        if key == "general.architecture":
            continue
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_string(key, str(value))
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.token_type", token_types or [3 if t in SPECIALS else 1 for t in tokens])
    if merges is not None:
        writer.add_array("tokenizer.ggml.merges", merges)

    expected: dict[str, np.ndarray] = {}

    def matrix(name: str, rows: int, cols: int) -> None:
        raw, values = encode(rng.standard_normal((rows, cols)).astype(np.float32) * 0.08, g.tensor_type, rng)
        expected[name] = values
        if name not in skip:
            writer.add_tensor(name, raw, raw_dtype=Q[g.tensor_type])

    def vector(name: str, size: int, center: float) -> None:
        values = (center + 0.1 * rng.standard_normal(size)).astype(np.float32)
        expected[name] = values
        if name not in skip:
            writer.add_tensor(name, values)

    vocab = len(tokens)
    matrix("token_embd.weight", vocab, g.hidden)
    vector("output_norm.weight", g.hidden, 1.0)
    if not g.tied:
        matrix("output.weight", vocab, g.hidden)
    kv = g.kv_heads * head_dim
    for i in range(g.layers):
        p = f"blk.{i}."
        vector(p + "attn_norm.weight", g.hidden, 1.0)
        vector(p + "ffn_norm.weight", g.hidden, 1.0)
        matrix(p + "attn_q.weight", g.heads * head_dim, g.hidden)
        matrix(p + "attn_k.weight", kv, g.hidden)
        matrix(p + "attn_v.weight", kv, g.hidden)
        if g.bias:
            vector(p + "attn_q.bias", g.heads * head_dim, 0.0)
            vector(p + "attn_k.bias", kv, 0.0)
            vector(p + "attn_v.bias", kv, 0.0)
        matrix(p + "attn_output.weight", g.hidden, g.heads * head_dim)
        matrix(p + "ffn_gate.weight", g.ffn, g.hidden)
        matrix(p + "ffn_up.weight", g.ffn, g.hidden)
        matrix(p + "ffn_down.weight", g.hidden, g.ffn)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected
