"""Random-weight decoders written directly in CTranslate2's format, plus a matching tokenizer.

Why: tests and benchmarks must exercise the real engine code path (CTranslate2 generator,
`transformers.AutoTokenizer`, streaming, cancellation) without downloading a 7B model or
installing torch. The same builder produces a tiny model for the test suite and a
Gorilla-7B-sized one (LLaMA-7B geometry) for the GPU benchmark.

Two layouts are supported:

* ``"llama"``: RMSNorm, rotary position embeddings, gated SiLU FFN, no biases (Gorilla-7B,
  gorilla-openfunctions-v2 are LLaMA-style decoders).
* ``"gpt2"``: LayerNorm with beta, learned position embeddings, GELU FFN, biases everywhere.

The weights are random, so the text the model emits is random too; the pipeline checks
every candidate anyway.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

logger = logging.getLogger(__name__)

SPECIAL_TOKENS: tuple[str, ...] = ("<unk>", "<s>", "</s>", "<pad>")
"""Special tokens of the tiny tokenizer, in id order (LLaMA's ids for unk/bos/eos)."""

# Fields of an APIBench record whose text is useful to train the tiny tokenizer on.
_CORPUS_FIELDS: tuple[str, ...] = (
    "api_call",
    "api_name",
    "functionality",
    "description",
    "domain",
    "framework",
)


class DecoderGeometry(msgspec.Struct, frozen=True, kw_only=True):
    """Shape of a decoder-only transformer."""

    num_layers: int = 2
    num_heads: int = 4
    hidden_size: int = 64
    ffn_size: int = 172
    vocab_size: int = 512
    layout: Literal["llama", "gpt2"] = "llama"
    max_positions: int = 2048
    norm_epsilon: float = 1e-5
    rotary_base: float = 10000.0

    def parameter_count(self) -> int:
        """Number of weights, embeddings and output projection included."""
        h, f, v = self.hidden_size, self.ffn_size, self.vocab_size
        if self.layout == "llama":
            per_layer = 4 * h * h + 3 * h * f + 2 * h
            extra = h
        else:
            per_layer = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h
            extra = 2 * h + self.max_positions * h + v
        return self.num_layers * per_layer + 2 * v * h + extra


GORILLA_7B_GEOMETRY = DecoderGeometry(
    num_layers=32,
    num_heads=32,
    hidden_size=4096,
    ffn_size=11008,
    vocab_size=32000,
    layout="llama",
    max_positions=2048,
    norm_epsilon=1e-6,
)
"""LLaMA-7B geometry, which Gorilla-7B (gorilla-7b-hf-v0, gorilla-7b-tf-v0, ...) shares."""


class TinyModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What `build_tiny_model` wrote."""

    path: str
    geometry: DecoderGeometry
    trained_vocab_size: int
    weight_dtype: str
    num_parameters: int
    model_bytes: int


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------


def default_corpus() -> list[str]:
    """A small built-in corpus of API-call-like text, for when no APIBench data is at hand."""
    repos = [
        ("pytorch/vision", ["resnet50", "resnet18", "alexnet", "vgg16", "densenet121", "mobilenet_v2"]),
        ("intel-isl/MiDaS", ["DPT_Hybrid", "DPT_Large", "MiDaS_small"]),
        ("ultralytics/yolov5", ["yolov5s", "yolov5m", "yolov5x"]),
        ("facebookresearch/pytorch_GAN_zoo:hub", ["PGAN", "DCGAN"]),
    ]
    hf_models = [
        ("fill-mask", "bert-base-uncased"),
        ("text-classification", "distilbert-base-uncased-finetuned-sst-2-english"),
        ("summarization", "facebook/bart-large-cnn"),
        ("translation_en_to_fr", "t5-small"),
        ("automatic-speech-recognition", "openai/whisper-tiny"),
        ("image-classification", "google/vit-base-patch16-224"),
        ("question-answering", "deepset/roberta-base-squad2"),
        ("text-generation", "gpt2"),
    ]
    tf_urls = [
        "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/classification/4",
        "https://tfhub.dev/google/universal-sentence-encoder/4",
        "https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5",
        "https://tfhub.dev/tensorflow/efficientdet/lite0/detection/1",
    ]
    texts: list[str] = []
    for repo, models in repos:
        for model in models:
            texts.append(f"torch.hub.load(repo_or_dir='{repo}', model='{model}', pretrained=True)")
            texts.append(f"Load the pretrained {model} model from {repo} for image classification.")
    for task, model in hf_models:
        texts.append(f"pipeline('{task}', model='{model}')")
        texts.append(f"AutoModel.from_pretrained('{model}')")
        texts.append(f"AutoTokenizer.from_pretrained('{model}')")
        texts.append(f"Use the {model} model for {task.replace('-', ' ')} with Hugging Face Transformers.")
    for url in tf_urls:
        texts.append(f"hub.KerasLayer('{url}')")
        texts.append(f"hub.load('{url}')")
        texts.append(f"model = tf.keras.Sequential([hub.KerasLayer('{url}', trainable=False)])")
    texts.append(
        "<<<domain>>>: Classification, <<<api_call>>>: torch.hub.load(repo_or_dir='pytorch/vision', "
        "model='resnet50', pretrained=True), <<<api_provider>>>: PyTorch, <<<explanation>>>: "
        "Load the pretrained ResNet-50 model, <<<code>>>: import torch"
    )
    texts.append("###USER: I need a model that classifies images of animals.###ASSISTANT: ")
    return texts


def corpus_from_records(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Training texts taken from APIBench records (their calls, names and descriptions)."""
    texts: list[str] = []
    for record in records:
        for field in _CORPUS_FIELDS:
            value = record.get(field)
            if isinstance(value, str) and value:
                texts.append(value)
            elif isinstance(value, list):
                texts.extend(str(item) for item in value if item)
    return texts


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path) -> int:
    """Train a byte-level BPE tokenizer and save it so `AutoTokenizer.from_pretrained` loads it.

    The vocabulary is padded with ``<extra_id_N>`` special tokens up to exactly
    ``vocab_size`` so that it matches the model's embedding table. Returns the size of
    the trained part (before padding).
    """
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )

    minimum = 256 + len(SPECIAL_TOKENS)
    if vocab_size < minimum:
        raise ValueError(f"vocab_size={vocab_size} is too small: a byte-level BPE needs at least {minimum}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    trained = tokenizer.get_vocab_size(with_added_tokens=True)
    missing = vocab_size - trained
    if missing > 0:
        tokenizer.add_special_tokens([f"<extra_id_{i}>" for i in range(missing)])
    bos_id = tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    special = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 1_000_000,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": True,
        **special,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
    return trained


def tokenizer_vocabulary(tokenizer_json: str | Path) -> list[str]:
    """Token strings of a saved `tokenizers` tokenizer, in id order (CTranslate2's vocabulary)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    tokens = [tokenizer.id_to_token(i) for i in range(size)]
    if any(token is None for token in tokens):
        raise ValueError(f"{tokenizer_json}: token ids are not contiguous")
    return [str(token) for token in tokens]


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def _random_variable_class() -> type:
    """A CTranslate2 `Variable` that produces its random bytes only when written.

    Why: a 7B model in float16 is 13 GB; generating each tensor while `spec.save` writes it
    keeps peak RAM at one tensor instead of the whole model. Values cycle through a shared
    pool of normal samples starting at a random offset, which is fast and keeps tensors
    distinct (we never call `spec.optimize`, so nothing is aliased).
    """
    from ctranslate2.specs.model_spec import Variable

    class PooledRandomVariable(Variable):
        def __init__(self, shape: tuple[int, ...], pool: np.ndarray, offset: int) -> None:
            self._shape = tuple(int(d) for d in shape)
            self._pool = pool
            self._offset = offset

        @property
        def shape(self) -> list[int]:
            return list(self._shape)

        @property
        def dtype(self) -> str:
            return self._pool.dtype.name

        def numpy(self) -> np.ndarray:
            n = int(np.prod(self._shape))
            out = np.empty(n, dtype=self._pool.dtype)
            pool = self._pool
            start = self._offset % len(pool)
            i = 0
            while i < n:
                chunk = min(n - i, len(pool) - start)
                out[i : i + chunk] = pool[start : start + chunk]
                i += chunk
                start = 0
            return out.reshape(self._shape)

        def num_bytes(self) -> int:
            return int(np.prod(self._shape)) * self._pool.dtype.itemsize

        def to_bytes(self) -> bytes:
            return self.numpy().tobytes()

        def _to(self, dtype: str) -> Variable:
            raise NotImplementedError("pooled random variables are written as generated")

        def _equal(self, other: object) -> bool:
            return other is self

    return PooledRandomVariable


class _WeightFactory:
    """Makes the tensors of one spec: either eager numpy arrays or lazy pooled variables."""

    def __init__(self, dtype: str, seed: int, lazy: bool, std: float = 0.02) -> None:
        self._np_dtype = np.dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self._std = std
        self._lazy = lazy
        self._pool: np.ndarray | None = None
        self._lazy_cls: type | None = None

    def normal(self, *shape: int) -> Any:
        if self._lazy:
            if self._pool is None:
                pool = self._rng.standard_normal(1 << 22, dtype=np.float32) * self._std
                self._pool = pool.astype(self._np_dtype)
                self._lazy_cls = _random_variable_class()
            assert self._lazy_cls is not None
            offset = int(self._rng.integers(0, len(self._pool)))
            return self._lazy_cls(shape, self._pool, offset)
        values = self._rng.standard_normal(shape, dtype=np.float32) * self._std
        return values.astype(self._np_dtype)

    def ones(self, size: int) -> np.ndarray:
        return np.ones(size, dtype=self._np_dtype)

    def zeros(self, size: int) -> np.ndarray:
        return np.zeros(size, dtype=self._np_dtype)


def build_decoder_spec(
    geometry: DecoderGeometry,
    vocabulary: list[str],
    *,
    seed: int = 0,
    weight_dtype: str = "float32",
    lazy: bool = False,
    bos_token: str = "<s>",
    eos_token: str = "</s>",
    unk_token: str = "<unk>",
) -> Any:
    """A `TransformerDecoderModelSpec` with every variable set to random weights.

    ``lazy=True`` defers generating the large tensors until the spec is saved (see
    `_random_variable_class`); use it for multi-GB geometries.
    """
    from ctranslate2.specs import common_spec, transformer_spec

    g = geometry
    if g.hidden_size % g.num_heads:
        raise ValueError(f"hidden_size={g.hidden_size} is not a multiple of num_heads={g.num_heads}")
    if len(vocabulary) != g.vocab_size:
        raise ValueError(f"vocabulary has {len(vocabulary)} tokens but geometry.vocab_size={g.vocab_size}")
    if weight_dtype not in ("float32", "float16"):
        raise ValueError(f"weight_dtype={weight_dtype!r}: expected 'float32' or 'float16'")

    llama = g.layout == "llama"
    if llama:
        spec = transformer_spec.TransformerDecoderModelSpec.from_config(
            g.num_layers,
            g.num_heads,
            pre_norm=True,
            activation=common_spec.Activation.SWISH,
            ffn_glu=True,
            rms_norm=True,
            rotary_dim=0,
            rotary_interleave=False,
            rotary_base=g.rotary_base,
        )
    elif g.layout == "gpt2":
        spec = transformer_spec.TransformerDecoderModelSpec.from_config(
            g.num_layers,
            g.num_heads,
            pre_norm=True,
            activation=common_spec.Activation.GELUTanh,
        )
    else:
        raise ValueError(f"layout={g.layout!r}: expected 'llama' or 'gpt2'")

    w = _WeightFactory(weight_dtype, seed, lazy)
    h, f, v = g.hidden_size, g.ffn_size, g.vocab_size
    decoder = spec.decoder
    decoder.scale_embeddings = False
    decoder.embeddings.weight = w.normal(v, h)
    decoder.projection.weight = w.normal(v, h)
    decoder.layer_norm.gamma = w.ones(h)
    if not llama:
        decoder.layer_norm.beta = w.zeros(h)
        decoder.projection.bias = w.zeros(v)
        decoder.position_encodings.encodings = w.normal(g.max_positions, h)

    for layer in decoder.layer:
        attention, ffn = layer.self_attention, layer.ffn
        attention.layer_norm.gamma = w.ones(h)
        attention.linear[0].weight = w.normal(3 * h, h)
        attention.linear[1].weight = w.normal(h, h)
        ffn.layer_norm.gamma = w.ones(h)
        ffn.linear_0.weight = w.normal(f, h)
        ffn.linear_1.weight = w.normal(h, f)
        if llama:
            ffn.linear_0_noact.weight = w.normal(f, h)
        else:
            attention.layer_norm.beta = w.zeros(h)
            attention.linear[0].bias = w.zeros(3 * h)
            attention.linear[1].bias = w.zeros(h)
            ffn.layer_norm.beta = w.zeros(h)
            ffn.linear_0.bias = w.zeros(f)
            ffn.linear_1.bias = w.zeros(h)

    spec.register_vocabulary(vocabulary)
    spec.config.bos_token = bos_token
    spec.config.eos_token = eos_token
    spec.config.unk_token = unk_token
    spec.config.layer_norm_epsilon = g.norm_epsilon
    return spec


def _empty_dir(out_dir: str | Path, force: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} is not empty; pass force=True to overwrite it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def build_tiny_model(
    out_dir: str | Path,
    *,
    geometry: DecoderGeometry | None = None,
    texts: Iterable[str] | None = None,
    seed: int = 0,
    weight_dtype: str = "float32",
    lazy_weights: bool = False,
    force: bool = False,
) -> TinyModelInfo:
    """Write a random-weight CTranslate2 decoder and its tokenizer into ``out_dir``.

    The directory then loads with `engine.generator.GorillaGenerator` exactly like a
    converted Gorilla model: ``model.bin``, ``config.json``, ``vocabulary.json`` and
    ``tokenizer.json`` / ``tokenizer_config.json``.
    """
    geometry = geometry or DecoderGeometry()
    out = _empty_dir(out_dir, force)

    corpus = list(texts) if texts is not None else default_corpus()
    trained = train_tokenizer(corpus, geometry.vocab_size, out)
    vocabulary = tokenizer_vocabulary(out / "tokenizer.json")
    logger.info("tiny tokenizer: %d trained tokens, padded to %d", trained, len(vocabulary))

    spec = build_decoder_spec(geometry, vocabulary, seed=seed, weight_dtype=weight_dtype, lazy=lazy_weights)
    spec.validate()
    spec.save(str(out))
    model_bytes = (out / "model.bin").stat().st_size
    logger.info("wrote %s (%d bytes)", out / "model.bin", model_bytes)
    return TinyModelInfo(
        path=str(out),
        geometry=geometry,
        trained_vocab_size=trained,
        weight_dtype=weight_dtype,
        num_parameters=geometry.parameter_count(),
        model_bytes=model_bytes,
    )


def build_scripted_model(
    out_dir: str | Path,
    answer: str | None,
    *,
    geometry: DecoderGeometry | None = None,
    seed: int = 0,
    force: bool = False,
) -> TinyModelInfo:
    """A real CTranslate2 decoder whose greedy (and near-greedy sampled) output is `answer`, then end of text.

    Why: tests of what surrounds generation (a server flagging an invented call, a quick fix) need to know what the
    model says, and they should still run the real engine. The answer is one added token of the tokenizer; attention
    and FFN outputs are zero, so each step's logits depend only on the previous token: any token -> `answer`,
    `answer` -> `</s>`. With `answer=None` the model emits an invisible filler token until the length limit, which
    with a large `geometry` makes a model slow enough to cancel mid-generation.
    """
    from tokenizers import AddedToken, Tokenizer

    geometry = geometry or DecoderGeometry()
    out = _empty_dir(out_dir, force)
    trained = train_tokenizer(default_corpus(), geometry.vocab_size - 1, out)
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    target_text = answer if answer is not None else "<filler>"
    tokenizer.add_tokens([AddedToken(target_text, normalized=False, special=answer is None)])
    tokenizer.save(str(out / "tokenizer.json"))
    vocabulary = tokenizer_vocabulary(out / "tokenizer.json")
    geometry = msgspec.structs.replace(geometry, vocab_size=len(vocabulary))
    spec = build_decoder_spec(geometry, vocabulary, seed=seed)

    h = geometry.hidden_size
    target = tokenizer.token_to_id(target_text)
    eos = tokenizer.token_to_id("</s>")
    plain = np.where(np.arange(h) % 2 == 0, 1.0, -1.0).astype(np.float32)  # unit RMS, survives the norm
    marked = np.where((np.arange(h) // 2) % 2 == 0, 1.0, -1.0).astype(np.float32)  # orthogonal to `plain`
    embeddings = np.tile(plain, (len(vocabulary), 1))
    projection = np.zeros((len(vocabulary), h), dtype=np.float32)
    if answer is not None:
        embeddings[target] = marked
        projection[eos] = marked
    projection[target] = plain
    decoder = spec.decoder
    decoder.embeddings.weight = embeddings
    decoder.projection.weight = projection
    for layer in decoder.layer:
        layer.self_attention.linear[1].weight = np.zeros((h, h), dtype=np.float32)
        layer.ffn.linear_1.weight = np.zeros((h, geometry.ffn_size), dtype=np.float32)
    spec.validate()
    spec.save(str(out))
    return TinyModelInfo(
        path=str(out), geometry=geometry, trained_vocab_size=trained, weight_dtype="float32",
        num_parameters=geometry.parameter_count(), model_bytes=(out / "model.bin").stat().st_size,
    )
