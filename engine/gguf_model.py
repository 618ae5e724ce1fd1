"""Reading a GGUF model file (llama.cpp, Ollama) without torch: hyper-parameters and float32 weights.

Why a module of its own: the converter (`engine.gguf_convert`), the tokenizer builder (`engine.gguf_tokenizer`) and
the numpy reference forward pass (`engine.gguf_reference`) all read the same file, and each must see the same
weights. The file is memory-mapped by the `gguf` package (PyPI, from llama.cpp); `GGUFModel.tensor` dequantizes one
tensor at a time, so reading a 7B model never holds more than one float32 tensor.

Tensors come out in the layout the file stores them, rows = output features (``(out, in)``), which is what both
CTranslate2's specs and a ``x @ W.T`` forward pass use. llama.cpp's converter permutes the rows of ``attn_q`` and
``attn_k`` of the ``llama`` architecture into its interleaved rotary layout; `GGUFModel.attention_weight` undoes that
("rotate-half" layout, as in Hugging Face checkpoints) when asked to.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from engine.errors import ConversionError

logger = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES: tuple[str, ...] = ("llama", "qwen2")
"""``general.architecture`` values the converter handles: ``llama`` covers Llama 1/2, Mistral, DeepSeek-Coder,
CodeLlama, SmolLM and most Llama-shaped models llama.cpp converts; ``qwen2`` adds q/k/v biases."""

SUPPORTED_ROPE_SCALING: tuple[str, ...] = ("none", "linear")
GGUF_MAGIC = b"GGUF"


class GGUFError(ConversionError):
    """The GGUF file cannot be read, or describes a model the converter does not handle."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class GGUFConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A decoder's hyper-parameters, read from the ``{architecture}.*`` metadata keys."""

    architecture: str
    name: str
    num_layers: int
    hidden_size: int
    ffn_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    """Rows of the token embedding matrix (the model's vocabulary size)."""
    context_length: int
    rope_base: float
    rope_scaling: Literal["none", "linear"]
    rope_scaling_factor: float
    norm_epsilon: float
    tied_embeddings: bool
    """No ``output.weight``: the output projection reuses ``token_embd.weight``."""
    attention_bias: bool
    """``attn_q.bias`` / ``attn_k.bias`` / ``attn_v.bias`` present (qwen2)."""
    permuted_qk: bool
    """Q/K rows are in llama.cpp's interleaved rotary layout (``llama``); False: rotate-half (``qwen2``, NEOX)."""


def supported_tensor_types() -> tuple[str, ...]:
    """Names of the GGML tensor types this installation of `gguf` can dequantize to float32."""
    return _supported_tensor_types()


@functools.cache
def _supported_tensor_types() -> tuple[str, ...]:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import dequantize

    names = []
    for qtype in GGMLQuantizationType:
        block, size = GGML_QUANT_SIZES.get(qtype, (0, 0))
        if not block:
            continue
        try:
            dequantize(np.zeros((1, size), dtype=np.uint8), qtype)
        except (NotImplementedError, ValueError, TypeError):
            continue
        names.append(qtype.name)
    return tuple(names)


def is_gguf_file(path: str | Path) -> bool:
    """Whether ``path`` is a file that starts with the GGUF magic bytes."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with p.open("rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def unpermute_rotary_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's Q/K row permutation (interleaved rotary pairs -> rotate-half halves), head by head.

    llama.cpp's ``convert_hf_to_gguf.py`` applies ``w.reshape(heads, 2, d // 2, ...).swapaxes(1, 2)``; this is its
    inverse. Works for weights ``(heads * d, in)`` and biases ``(heads * d,)``.
    """
    rows = weight.shape[0]
    if rows % heads or (rows // heads) % 2:
        raise ValueError(f"cannot split {rows} rows into {heads} heads of an even size")
    tail = weight.shape[1:]
    return weight.reshape(heads, rows // heads // 2, 2, *tail).swapaxes(1, 2).reshape(weight.shape)


class GGUFModel:
    """One GGUF file: metadata, the decoder's `GGUFConfig` and its tensors as float32 numpy arrays.

    Raises `GGUFError` for a file that is not GGUF, an architecture outside `SUPPORTED_ARCHITECTURES`, missing
    hyper-parameters or tensors, and tensor types `gguf` cannot dequantize; every message names the file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise GGUFError(f"GGUF file {self.path} does not exist", path=str(self.path))
        if not is_gguf_file(self.path):
            raise GGUFError(
                f"{self.path} is not a GGUF file (it does not start with the bytes 'GGUF'); expected a model file "
                "written by llama.cpp's converter",
                path=str(self.path),
            )
        try:
            from gguf import GGUFReader

            self._reader = GGUFReader(str(self.path))
        except Exception as exc:  # the reader raises ValueError, struct errors, IndexError on damaged files
            raise GGUFError(f"cannot read the GGUF file {self.path} (truncated or damaged?): {exc}",
                            path=str(self.path)) from exc
        self._tensors = {t.name: t for t in self._reader.tensors}
        self.config = self._read_config()

    # -- metadata ---------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self._reader.fields

    def get(self, key: str, default: Any = None) -> Any:
        """A metadata value (strings, numbers, lists), or ``default`` when the key is absent."""
        field = self._reader.fields.get(key)
        if field is None:
            return default
        value = field.contents()
        return default if value is None else value

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise GGUFError(f"{self.path}: the metadata key {key!r} is missing; the file does not describe a "
                            f"complete {self.get('general.architecture', 'model')} model", path=str(self.path))
        return value

    @property
    def architecture(self) -> str:
        return str(self.get("general.architecture", ""))

    def _read_config(self) -> GGUFConfig:
        arch = self.architecture
        if arch not in SUPPORTED_ARCHITECTURES:
            raise GGUFError(
                f"{self.path}: architecture {arch or '(none)'!r} is not supported; supported architectures: "
                f"{', '.join(SUPPORTED_ARCHITECTURES)} (Llama, Mistral, DeepSeek-Coder, CodeLlama, SmolLM and other "
                "Llama-shaped models are 'llama')",
                path=str(self.path),
            )
        hidden = int(self.require(f"{arch}.embedding_length"))
        heads = int(self.require(f"{arch}.attention.head_count"))
        kv_heads = int(self.get(f"{arch}.attention.head_count_kv", heads))
        head_dim = int(self.get(f"{arch}.attention.key_length", hidden // heads))
        rope_dim = int(self.get(f"{arch}.rope.dimension_count", head_dim))
        if rope_dim != head_dim:
            raise GGUFError(f"{self.path}: partial rotary embeddings ({rope_dim} of {head_dim} dimensions per head) "
                            "are not supported", path=str(self.path))
        if "rope_freqs.weight" in self._tensors:
            raise GGUFError(f"{self.path}: per-dimension rotary frequency factors (rope_freqs.weight, Llama 3.1 "
                            f"style scaling) are not supported; supported rotary scaling: "
                            f"{', '.join(SUPPORTED_ROPE_SCALING)}", path=str(self.path))
        scaling = str(self.get(f"{arch}.rope.scaling.type", "none"))
        factor = float(self.get(f"{arch}.rope.scaling.factor", 1.0))
        if scaling == "none" and self.has(f"{arch}.rope.scale_linear"):  # older files
            scaling, factor = "linear", float(self.get(f"{arch}.rope.scale_linear"))
        if scaling not in SUPPORTED_ROPE_SCALING:
            raise GGUFError(f"{self.path}: rotary scaling {scaling!r} is not supported; supported: "
                            f"{', '.join(SUPPORTED_ROPE_SCALING)}", path=str(self.path))
        embeddings = self._tensor_info("token_embd.weight")
        for key, value in (("embedding_length", hidden), ("attention.head_count", heads),
                           ("attention.head_count_kv", kv_heads)):
            if value <= 0:
                raise GGUFError(f"{self.path}: {arch}.{key} = {value}; expected a positive integer",
                                path=str(self.path))
        if heads % kv_heads:
            raise GGUFError(f"{self.path}: {heads} attention heads cannot share {kv_heads} key/value heads evenly",
                            path=str(self.path))
        return GGUFConfig(
            architecture=arch,
            name=str(self.get("general.name", self.path.stem)),
            num_layers=int(self.require(f"{arch}.block_count")),
            hidden_size=hidden,
            ffn_size=int(self.require(f"{arch}.feed_forward_length")),
            num_heads=heads,
            num_kv_heads=kv_heads,
            head_dim=head_dim,
            vocab_size=int(embeddings.shape[1]) if len(embeddings.shape) > 1 else 0,
            context_length=int(self.get(f"{arch}.context_length", 2048)),
            rope_base=float(self.get(f"{arch}.rope.freq_base", 10000.0)),
            rope_scaling="linear" if scaling == "linear" and factor != 1.0 else "none",
            rope_scaling_factor=factor if scaling == "linear" else 1.0,
            norm_epsilon=float(self.get(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)),
            tied_embeddings="output.weight" not in self._tensors,
            attention_bias="blk.0.attn_q.bias" in self._tensors,
            permuted_qk=arch == "llama",
        )

    # -- tensors ------------------------------------------------------------------

    def tensor_names(self) -> list[str]:
        return list(self._tensors)

    def has_tensor(self, name: str) -> bool:
        return name in self._tensors

    def tensor_types(self) -> Counter[str]:
        """How many tensors of each GGML type the file holds (e.g. ``{"Q4_1": 210, "F32": 61}``)."""
        return Counter(t.tensor_type.name for t in self._tensors.values())

    def matrix_types(self) -> Counter[str]:
        """`tensor_types` of the two-dimensional tensors only (the weights a quantization applies to)."""
        return Counter(t.tensor_type.name for t in self._tensors.values() if len(t.shape) > 1)

    def check_tensor_types(self) -> None:
        """Raise `GGUFError` naming every tensor type the installed `gguf` package cannot dequantize."""
        supported = set(supported_tensor_types())
        bad = Counter(t.tensor_type.name for t in self._tensors.values() if t.tensor_type.name not in supported)
        if bad:
            example = next(t.name for t in self._tensors.values() if t.tensor_type.name in bad)
            found = ", ".join(f"{name} ({count} tensors)" for name, count in sorted(bad.items()))
            raise GGUFError(f"{self.path}: tensor type(s) {found} cannot be dequantized (e.g. {example}); "
                            f"supported types: {', '.join(supported_tensor_types())}", path=str(self.path))

    def _tensor_info(self, name: str) -> Any:
        info = self._tensors.get(name)
        if info is None:
            raise GGUFError(f"{self.path}: tensor {name!r} is missing; a {self.architecture} model needs it",
                            path=str(self.path))
        return info

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        """Shape as numpy sees it (rows = output features), without reading the data."""
        return tuple(int(d) for d in reversed(self._tensor_info(name).shape))

    def tensor(self, name: str) -> np.ndarray:
        """The tensor ``name`` dequantized to a new float32 array, rows = output features."""
        from gguf.quants import dequantize

        info = self._tensor_info(name)
        kind = info.tensor_type.name
        if kind not in supported_tensor_types():
            raise GGUFError(f"{self.path}: tensor {name!r} has type {kind}, which cannot be dequantized; supported "
                            f"types: {', '.join(supported_tensor_types())}", path=str(self.path))
        try:
            values = dequantize(np.asarray(info.data), info.tensor_type)
        except Exception as exc:
            raise GGUFError(f"{self.path}: cannot dequantize tensor {name!r} ({kind}): {exc}",
                            path=str(self.path)) from exc
        # F32 tensors come back as a read-only view of the mapped file; callers never write into them.
        return np.asarray(values, dtype=np.float32).reshape(self.tensor_shape(name))

    def attention_weight(self, layer: int, which: Literal["q", "k", "v"], part: str = "weight", *,
                         rotate_half: bool = True) -> np.ndarray:
        """``blk.{layer}.attn_{which}.{part}``; Q/K rows put back in rotate-half order when the file permuted them."""
        values = self.tensor(f"blk.{layer}.attn_{which}.{part}")
        if rotate_half and self.config.permuted_qk and which in ("q", "k"):
            heads = self.config.num_heads if which == "q" else self.config.num_kv_heads
            values = unpermute_rotary_rows(values, heads)
        return values

    def layer_tensor_names(self, layer: int) -> Iterator[str]:
        names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up",
                 "ffn_down"]
        for name in names:
            yield f"blk.{layer}.{name}.weight"
        if self.config.attention_bias:
            for which in ("q", "k", "v"):
                yield f"blk.{layer}.attn_{which}.bias"

    def check_tensors(self) -> None:
        """Raise `GGUFError` for the first tensor the decoder needs that the file lacks, or one of a wrong shape."""
        c = self.config
        q_rows, kv_rows = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
        expected: dict[str, tuple[int, ...]] = {"token_embd.weight": (c.vocab_size, c.hidden_size),
                                                "output_norm.weight": (c.hidden_size,)}
        if not c.tied_embeddings:
            expected["output.weight"] = (c.vocab_size, c.hidden_size)
        for layer in range(c.num_layers):
            p = f"blk.{layer}."
            expected.update({
                p + "attn_norm.weight": (c.hidden_size,), p + "ffn_norm.weight": (c.hidden_size,),
                p + "attn_q.weight": (q_rows, c.hidden_size), p + "attn_k.weight": (kv_rows, c.hidden_size),
                p + "attn_v.weight": (kv_rows, c.hidden_size), p + "attn_output.weight": (c.hidden_size, q_rows),
                p + "ffn_gate.weight": (c.ffn_size, c.hidden_size), p + "ffn_up.weight": (c.ffn_size, c.hidden_size),
                p + "ffn_down.weight": (c.hidden_size, c.ffn_size),
            })
            if c.attention_bias:
                expected.update({p + "attn_q.bias": (q_rows,), p + "attn_k.bias": (kv_rows,),
                                 p + "attn_v.bias": (kv_rows,)})
        for name, shape in expected.items():
            actual = self.tensor_shape(name)
            if actual != shape:
                raise GGUFError(f"{self.path}: tensor {name!r} has shape {actual}; the metadata implies {shape}",
                                path=str(self.path))
        extra = sorted(set(self._tensors) - set(expected))
        if extra:
            logger.warning("%s: ignoring %d tensor(s) the converter does not use: %s", self.path, len(extra),
                           ", ".join(extra[:5]))
