"""GGUF -> CTranslate2 without torch: a llama.cpp model file becomes a model directory the engine loads.

Why: the form in which people keep local models is GGUF (llama.cpp, Ollama; Gorilla's own OpenFunctions models are
published as GGUF), and CTranslate2's own converters need torch and a Hugging Face checkpoint. Here the weights are
dequantized with the `gguf` package (numpy only) and written into a `ctranslate2.specs.TransformerDecoderModelSpec`
(the layout CTranslate2's Llama and Qwen2 converters produce: Q/K/V fused, rotate-half rotary, RMSNorm, gated SiLU).

Memory: every weight is a lazy `ctranslate2.specs.model_spec.Variable` that dequantizes (and re-quantizes) its tensor
only while ``model.bin`` is written, and drops it right after, so peak memory is about one float32 tensor plus the
memory-mapped file, whatever the model's size.

The tokenizer is rebuilt from the file's metadata (`engine.gguf_tokenizer`), chat template included.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.convert import ConversionResult, check_quantization
from engine.errors import ConversionError
from engine.gguf_model import GGUFModel
from engine.gguf_tokenizer import build_tokenizer

logger = logging.getLogger(__name__)

def default_quantization(model: GGUFModel) -> str:
    """int8 for a quantized file (its weights already have 8 bits or fewer), else the matrices' float type."""
    kinds = set(model.matrix_types())
    if kinds <= {"F32"}:
        return "float32"
    if kinds <= {"F32", "F16", "BF16"}:
        return "bfloat16" if "BF16" in kinds else "float16"
    return "int8"


def _to_bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), rounding to nearest even, as torch does."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = bits + (np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1)))
    return (rounded >> 16).astype(np.uint16)


def _encode(values: np.ndarray, dtype: str) -> bytes:
    if dtype == "bfloat16":
        return _to_bfloat16(values).tobytes()
    return np.ascontiguousarray(values, dtype=dtype).tobytes()


def _variable_classes() -> tuple[type, type]:
    """The lazy CTranslate2 variables (built on first use: importing ctranslate2.specs is slow)."""
    from ctranslate2.specs.model_spec import Variable

    class LazyTensor(Variable):
        """A float tensor computed by ``load`` only when CTranslate2 writes it, stored as ``dtype``."""

        def __init__(self, shape: tuple[int, ...], load: Callable[[], np.ndarray], dtype: str) -> None:
            self._shape, self._load, self._dtype = tuple(shape), load, dtype

        @property
        def shape(self) -> list[int]:
            return list(self._shape)

        @property
        def dtype(self) -> str:
            return self._dtype

        def numpy(self) -> np.ndarray:
            values = self._load()
            if tuple(values.shape) != self._shape:
                raise ConversionError(f"a tensor has shape {values.shape}; expected {self._shape}")
            return values

        def num_bytes(self) -> int:
            return int(np.prod(self._shape, dtype=np.int64)) * (2 if self._dtype in ("float16", "bfloat16") else 4)

        def to_bytes(self) -> bytes:
            return _encode(self.numpy(), self._dtype)

        def _to(self, dtype: str) -> Variable:
            return LazyTensor(self._shape, self._load, dtype)

        def _equal(self, other: object) -> bool:
            return other is self

    class QuantizedPart(Variable):
        """The integer weights or the scales of one matrix, quantized once for both (CTranslate2's scheme)."""

        def __init__(self, matrix: _QuantizedMatrix, part: str) -> None:
            self._matrix, self._part = matrix, part

        @property
        def shape(self) -> list[int]:
            return self._matrix.shape_of(self._part)

        @property
        def dtype(self) -> str:
            return self._matrix.dtype_of(self._part)

        def numpy(self) -> np.ndarray:
            return self._matrix.take(self._part)

        def num_bytes(self) -> int:
            size = int(np.prod(self.shape, dtype=np.int64))
            return size * {"int8": 1, "int16": 2, "float32": 4}[self.dtype]

        def to_bytes(self) -> bytes:
            return self.numpy().tobytes()

        def _to(self, dtype: str) -> Variable:
            raise ConversionError("quantized weights are written in their own type")

        def _equal(self, other: object) -> bool:
            return other is self

    return LazyTensor, QuantizedPart


class _QuantizedMatrix:
    """int8 (per-row scale) or int16 (one scale) version of a matrix, computed when the first part is written.

    Mirrors `ctranslate2.specs.model_spec.LayerSpec._quantize`; the result is dropped once both parts are taken.
    """

    def __init__(self, shape: tuple[int, int], load: Callable[[], np.ndarray], bits: int) -> None:
        self._shape, self._load, self._bits = shape, load, bits
        self._parts: dict[str, np.ndarray] = {}
        self._taken: set[str] = set()

    def shape_of(self, part: str) -> list[int]:
        if part == "weight":
            return list(self._shape)
        return [self._shape[0]] if self._bits == 8 else []

    def dtype_of(self, part: str) -> str:
        if part == "scale":
            return "float32"
        return "int8" if self._bits == 8 else "int16"

    def _compute(self) -> None:
        values = self._load().astype(np.float32, copy=False)
        if self._bits == 8:
            amax = np.abs(values).max(axis=1)
            amax[amax == 0] = 127.0
            amax = np.maximum(amax, np.float32(127) / np.finfo(np.float32).max)
            scale = (np.float32(127.0) / amax).astype(np.float32)
            weight = np.rint(values * scale[:, None]).astype(np.int8)
        else:
            scale = np.float32(2**10 / np.abs(values).max())
            weight = np.clip(np.rint(values * scale), -32768, 32767).astype(np.int16)
            scale = np.asarray(scale, dtype=np.float32)
        self._parts = {"weight": weight, "scale": scale}

    def take(self, part: str) -> np.ndarray:
        if not self._parts:
            self._compute()
        value = self._parts[part]
        self._taken.add(part)
        if self._taken == {"weight", "scale"}:
            self._parts, self._taken = {}, set()
        return value


class _SpecWriter:
    """Fills a CTranslate2 decoder spec with lazy variables for one GGUF model and one quantization."""

    def __init__(self, model: GGUFModel, quantization: str) -> None:
        self.model = model
        self.quantization = quantization
        self.lazy_cls, self.part_cls = _variable_classes()
        if quantization in ("float16", "int8_float16"):
            self.float_dtype = "float16"
        elif quantization in ("bfloat16", "int8_bfloat16"):
            self.float_dtype = "bfloat16"
        else:
            self.float_dtype = "float32"
        self.bits = 8 if quantization.startswith("int8") else 16 if quantization == "int16" else 0

    def vector(self, name: str) -> Any:
        return self.lazy_cls(self.model.tensor_shape(name), lambda: self.model.tensor(name), self.float_dtype)

    def matrix(self, spec: Any, shape: tuple[int, int], load: Callable[[], np.ndarray]) -> None:
        """Set ``spec.weight`` (and ``spec.weight_scale`` when quantized) from ``load``."""
        if self.bits:
            matrix = _QuantizedMatrix(shape, load, self.bits)
            spec.weight = self.part_cls(matrix, "weight")
            spec.weight_scale = self.part_cls(matrix, "scale")
        else:
            spec.weight = self.lazy_cls(shape, load, self.float_dtype)

    def build(self, vocabulary: list[str], bos: str | None, eos: str | None, unk: str | None) -> Any:
        from ctranslate2.specs import attention_spec, common_spec, transformer_spec

        m, c = self.model, self.model.config
        scaling = attention_spec.RotaryScalingType.Linear if c.rope_scaling == "linear" else None
        spec = transformer_spec.TransformerDecoderModelSpec.from_config(
            c.num_layers,
            c.num_heads,
            pre_norm=True,
            activation=common_spec.Activation.SWISH,
            ffn_glu=True,
            rms_norm=True,
            rotary_dim=0,
            rotary_interleave=False,
            rotary_scaling_type=scaling,
            rotary_scaling_factor=c.rope_scaling_factor,
            rotary_base=c.rope_base,
            num_heads_kv=c.num_kv_heads if c.num_kv_heads != c.num_heads else None,
            head_dim=c.head_dim if c.head_dim * c.num_heads != c.hidden_size else None,
        )
        decoder = spec.decoder
        decoder.scale_embeddings = False
        self.matrix(decoder.embeddings, (c.vocab_size, c.hidden_size), lambda: m.tensor("token_embd.weight"))
        decoder.layer_norm.gamma = self.vector("output_norm.weight")
        if not c.tied_embeddings:
            self.matrix(decoder.projection, (c.vocab_size, c.hidden_size), lambda: m.tensor("output.weight"))
        qkv_rows = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim
        for i, layer in enumerate(decoder.layer):
            attention, ffn = layer.self_attention, layer.ffn
            attention.layer_norm.gamma = self.vector(f"blk.{i}.attn_norm.weight")
            ffn.layer_norm.gamma = self.vector(f"blk.{i}.ffn_norm.weight")
            self.matrix(attention.linear[0], (qkv_rows, c.hidden_size), lambda i=i: np.concatenate(
                [m.attention_weight(i, "q"), m.attention_weight(i, "k"), m.attention_weight(i, "v")]))
            if c.attention_bias:
                attention.linear[0].bias = self.lazy_cls((qkv_rows,), lambda i=i: np.concatenate(
                    [m.attention_weight(i, w, "bias") for w in ("q", "k", "v")]), self.float_dtype)
            self.matrix(attention.linear[1], (c.hidden_size, c.num_heads * c.head_dim),
                        lambda i=i: m.tensor(f"blk.{i}.attn_output.weight"))
            self.matrix(ffn.linear_0, (c.ffn_size, c.hidden_size), lambda i=i: m.tensor(f"blk.{i}.ffn_gate.weight"))
            self.matrix(ffn.linear_0_noact, (c.ffn_size, c.hidden_size),
                        lambda i=i: m.tensor(f"blk.{i}.ffn_up.weight"))
            self.matrix(ffn.linear_1, (c.hidden_size, c.ffn_size), lambda i=i: m.tensor(f"blk.{i}.ffn_down.weight"))

        spec.register_vocabulary(vocabulary)
        spec.config.bos_token = bos or vocabulary[0]
        spec.config.eos_token = eos or vocabulary[0]
        spec.config.unk_token = unk or ""
        spec.config.layer_norm_epsilon = c.norm_epsilon
        if c.tied_embeddings:
            decoder.projection.weight = "pending alias"  # validate() wants a value; it would turn an alias into bytes
        spec.validate()
        if c.tied_embeddings:
            decoder.projection.weight = "decoder/embeddings/weight"  # written as an alias: one copy in model.bin
        return spec


def convert_gguf(
    src: str | Path,
    out: str | Path,
    quantization: str | None = None,
    force: bool = False,
) -> ConversionResult:
    """Convert the GGUF file ``src`` into the CTranslate2 model directory ``out`` (no torch needed).

    ``quantization`` is the stored weight type (`engine.convert.QUANTIZATIONS`); None picks `default_quantization`
    (int8 for a quantized file). Raises `engine.gguf_model.GGUFError` for files or models the converter does not
    handle, `InvalidSettingError` for a bad quantization and `ConversionError` for an existing ``out`` without
    ``force``.
    """
    check_quantization(quantization, "(int8 for a quantized GGUF file, else its float type)")
    output_dir = Path(out).expanduser()
    if output_dir.exists() and any(output_dir.iterdir()) and not force:
        raise ConversionError(f"output directory {output_dir} already exists; pass force=True (--force) to replace it")
    start = time.perf_counter()
    model = GGUFModel(src)
    model.check_tensor_types()
    model.check_tensors()
    quantization = quantization or default_quantization(model)
    files = build_tokenizer(model)
    vocabulary = files.vocabulary(model.config.vocab_size)
    config = files.config
    writer = _SpecWriter(model, quantization)
    spec = writer.build(vocabulary, config.get("bos_token"), config.get("eos_token"), config.get("unk_token"))

    logger.info("converting %s (%s, %s) to %s (%s)", model.path, model.config.architecture,
                dict(model.tensor_types()), output_dir, quantization)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    try:
        spec.save(str(output_dir))
        files.save(output_dir)
    except Exception:
        shutil.rmtree(output_dir, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    logger.info("converted %s in %.1f s", model.path, seconds)
    return ConversionResult(source=str(model.path), output_dir=str(output_dir), quantization=quantization,
                            seconds=seconds)
