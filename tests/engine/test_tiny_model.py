"""The tiny-model builder writes directories the real engine loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from engine.generator import GenerationOptions, GorillaGenerator
from engine.stopping import NO_STOP
from engine.tiny_model import (
    GORILLA_7B_GEOMETRY,
    DecoderGeometry,
    build_decoder_spec,
    build_tiny_model,
    default_corpus,
    tokenizer_vocabulary,
)


def test_tokenizer_loads_with_auto_tokenizer_and_matches_the_model(tiny_model) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model.path)
    assert len(tokenizer) == tiny_model.geometry.vocab_size
    ids = tokenizer("torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50')").input_ids
    assert ids[0] == tokenizer.bos_token_id
    assert (
        tokenizer.decode(ids, skip_special_tokens=True)
        == "torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50')"
    )
    assert tokenizer_vocabulary(Path(tiny_model.path) / "tokenizer.json") == tokenizer.convert_ids_to_tokens(
        list(range(len(tokenizer)))
    )


@pytest.mark.parametrize(
    ("layout", "weight_dtype", "lazy"),
    [("gpt2", "float32", False), ("llama", "float16", True)],
)
def test_layouts_and_lazy_weights_load_and_generate(tmp_path: Path, layout: str, weight_dtype: str, lazy: bool) -> None:
    geometry = DecoderGeometry(num_layers=1, num_heads=2, hidden_size=32, ffn_size=48, vocab_size=300, layout=layout)  # type: ignore[arg-type]
    info = build_tiny_model(tmp_path / layout, geometry=geometry, weight_dtype=weight_dtype, lazy_weights=lazy)
    assert info.geometry == geometry
    bytes_per_weight = 2 if weight_dtype == "float16" else 4
    assert info.model_bytes >= geometry.parameter_count() * bytes_per_weight
    with GorillaGenerator(info.path, device="cpu", compute_type="float32") as gen:
        result = gen.generate("hub.load(", GenerationOptions(max_new_tokens=4, min_new_tokens=4, stop=NO_STOP))
    assert len(result.candidates[0].token_ids) == 4


def test_padding_fills_the_vocabulary_exactly(tmp_path: Path) -> None:
    geometry = DecoderGeometry(num_layers=1, num_heads=2, hidden_size=16, ffn_size=16, vocab_size=2000)
    info = build_tiny_model(tmp_path / "m", geometry=geometry, texts=default_corpus()[:5])
    assert info.trained_vocab_size < 2000  # a tiny corpus cannot fill 2000 tokens ...
    assert len(AutoTokenizer.from_pretrained(info.path)) == 2000  # ... so extra ids pad it


def test_refuses_to_overwrite_without_force(tiny_model) -> None:
    with pytest.raises(FileExistsError):
        build_tiny_model(tiny_model.path)


def test_geometry_checks() -> None:
    with pytest.raises(ValueError, match="multiple"):
        build_decoder_spec(DecoderGeometry(hidden_size=30, num_heads=4, vocab_size=3), ["a", "b", "c"])
    with pytest.raises(ValueError, match="vocabulary"):
        build_decoder_spec(DecoderGeometry(vocab_size=5), ["a"])


def test_gorilla_7b_geometry_has_llama_7b_size() -> None:
    assert 6.7e9 < GORILLA_7B_GEOMETRY.parameter_count() < 6.8e9
