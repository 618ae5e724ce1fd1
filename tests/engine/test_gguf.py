"""GGUF -> CTranslate2 on tiny GGUF files the tests write: every tensor type, both architectures, the errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import engine.gguf_model
from engine.convert import convert_model
from engine.errors import ConversionError, InvalidSettingError
from engine.generator import GenerationOptions, GorillaGenerator
from engine.gguf_convert import convert_gguf, default_quantization
from engine.gguf_model import GGUFError, GGUFModel, supported_tensor_types, unpermute_rotary_rows
from engine.gguf_reference import VerificationError, reference_logits, verify_conversion
from engine.stopping import NO_STOP
from tests.engine.gguf_files import HAND_PACKED, TENSOR_TYPES, TinyGeometry, write_tiny_gguf

K_GEOMETRY = dict(hidden=256, ffn=256)  # k-quant rows hold whole 256-value blocks


def geometry_for(kind: str, **changes: object) -> TinyGeometry:
    return TinyGeometry(tensor_type=kind, **(K_GEOMETRY if kind in HAND_PACKED else {}), **changes)


@pytest.mark.parametrize("kind", TENSOR_TYPES)
def test_every_tensor_type_reads_back_and_converts_exactly(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"tiny-{kind}.gguf"
    expected = write_tiny_gguf(path, geometry_for(kind), seed=3)
    model = GGUFModel(path)
    assert kind in supported_tensor_types() and set(model.matrix_types()) == {kind}
    for name, values in expected.items():
        np.testing.assert_allclose(model.tensor(name), values, rtol=1e-6, atol=1e-7, err_msg=name)
    if kind in ("F32", "F16", "Q8_0"):
        # quantized from normal(0, 0.08) values: still close to them, in the same orientation
        raw = np.random.default_rng(3).standard_normal(expected["token_embd.weight"].shape) * 0.08
        assert np.corrcoef(raw.ravel(), expected["token_embd.weight"].ravel())[0, 1] > 0.99
    out = convert_gguf(path, tmp_path / "ct2", quantization="float32")
    report = verify_conversion(path, out.output_dir, quantization="float32")
    assert report.ok and report.correlation > 0.99999 and report.max_abs_diff < 1e-3 * max(report.logit_range, 1)


@pytest.mark.parametrize(
    "changes",
    [
        dict(architecture="qwen2", bias=True, kv_heads=1),  # NEOX rotary, q/k/v biases, multi-query
        dict(tied=False, heads=8, kv_heads=8, rope_base=100000.0),  # separate output matrix, no GQA
        dict(rope_scaling="linear", rope_factor=4.0),  # DeepSeek-Coder's linear rotary scaling
    ],
    ids=["qwen2-bias-mqa", "untied-mha", "linear-rope-scaling"],
)
def test_architecture_variants_match_the_reference(tmp_path: Path, changes: dict) -> None:
    path = tmp_path / "variant.gguf"
    write_tiny_gguf(path, TinyGeometry(**changes), seed=5)
    model = GGUFModel(path)
    assert model.config.tied_embeddings == changes.get("tied", True)
    out = convert_gguf(path, tmp_path / "ct2", quantization="float32")
    config = json.loads((Path(out.output_dir) / "config.json").read_text())
    assert config["eos_token"] == "<|im_end|>" and config["bos_token"] == "<|im_start|>"
    assert verify_conversion(path, out.output_dir, quantization="float32").correlation > 0.99999


def test_reference_uses_the_files_own_rotary_layout(tmp_path: Path) -> None:
    """Leaving llama.cpp's Q/K permutation in place (the rotary trap) loads and runs, and --verify catches it."""
    path = tmp_path / "tiny.gguf"
    write_tiny_gguf(path, TinyGeometry(layers=3), seed=11)
    original = engine.gguf_model.unpermute_rotary_rows
    try:
        engine.gguf_model.unpermute_rotary_rows = lambda weight, heads: weight
        out = convert_gguf(path, tmp_path / "broken", quantization="float32")
    finally:
        engine.gguf_model.unpermute_rotary_rows = original
    with pytest.raises(VerificationError, match="rotary") as info:
        verify_conversion(path, out.output_dir, quantization="float32")
    assert "logit correlation" in str(info.value)


def test_unpermute_inverts_llama_cpp_permutation() -> None:
    rows = np.arange(2 * 8 * 3, dtype=np.float32).reshape(16, 3)  # 2 heads of 8 rows
    permuted = rows.reshape(2, 2, 4, 3).swapaxes(1, 2).reshape(16, 3)  # convert_hf_to_gguf.py's permute
    np.testing.assert_array_equal(unpermute_rotary_rows(permuted, 2), rows)
    np.testing.assert_array_equal(unpermute_rotary_rows(permuted[:, 0], 2), rows[:, 0])  # biases too


@pytest.mark.parametrize("quantization", ["int8", "int16", "bfloat16", "float16", "int8_float16"])
def test_quantized_conversions_load_and_stay_close(tmp_path: Path, quantization: str) -> None:
    path = tmp_path / "tiny.gguf"
    write_tiny_gguf(path, geometry_for("Q4_K"), seed=2)
    out = convert_gguf(path, tmp_path / "ct2", quantization=quantization)
    assert out.quantization == quantization
    report = verify_conversion(path, out.output_dir, quantization=quantization)
    assert report.ok and report.compute_type in ("int8_float32", "int16", "float32")
    with GorillaGenerator(out.output_dir, device="cpu", compute_type="auto") as generator:
        result = generator.generate("The capital of France", GenerationOptions(strategy="greedy", max_new_tokens=4,
                                                                                stop=NO_STOP))
        assert len(result.candidates[0].token_ids) == 4


def test_default_quantization_follows_the_file(tmp_path: Path) -> None:
    for kind, expected in (("Q4_0", "int8"), ("F16", "float16"), ("BF16", "bfloat16"), ("F32", "float32")):
        write_tiny_gguf(tmp_path / f"{kind}.gguf", geometry_for(kind, layers=1))
        assert default_quantization(GGUFModel(tmp_path / f"{kind}.gguf")) == expected
    result = convert_model(tmp_path / "Q4_0.gguf", tmp_path / "out")  # the CLI's entry point, no torch
    assert result.quantization == "int8" and (tmp_path / "out" / "model.bin").is_file()
    assert (tmp_path / "out" / "model.bin").stat().st_size < 200_000


def test_tied_output_is_written_once(tmp_path: Path) -> None:
    tied, untied = tmp_path / "tied.gguf", tmp_path / "untied.gguf"
    write_tiny_gguf(tied, TinyGeometry(tied=True))
    write_tiny_gguf(untied, TinyGeometry(tied=False))
    a = convert_gguf(tied, tmp_path / "a", quantization="float32")
    b = convert_gguf(untied, tmp_path / "b", quantization="float32")
    size_a, size_b = (Path(r.output_dir, "model.bin").stat().st_size for r in (a, b))
    embedding_bytes = GGUFModel(tied).config.vocab_size * 64 * 4
    assert size_b - size_a == pytest.approx(embedding_bytes, rel=0.01)


def test_reference_logits_follow_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    write_tiny_gguf(path, seed=4)
    model = GGUFModel(path)
    full = reference_logits(model, [5, 9, 30, 7])
    np.testing.assert_allclose(reference_logits(model, [5, 9]), full[:2], rtol=1e-5, atol=1e-5)  # causal
    assert not np.allclose(full[2], reference_logits(model, [5, 8, 30])[2])


# -- errors ------------------------------------------------------------------------------------------------------


def test_unsupported_architecture_is_named_with_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "gemma.gguf"
    write_tiny_gguf(path, TinyGeometry(architecture="gemma"))
    with pytest.raises(GGUFError) as info:
        convert_gguf(path, tmp_path / "out")
    message = str(info.value)
    assert "'gemma'" in message and "llama, qwen2" in message and str(path) in message
    assert not (tmp_path / "out").exists()


def test_unsupported_tensor_type_is_named_with_the_supported_ones(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "int.gguf"
    write_tiny_gguf(path, TinyGeometry(layers=1), skip=("blk.0.ffn_up.weight",))
    # rewrite the file with an integer tensor in place of ffn_up
    reader = gguf.GGUFReader(str(path))
    writer = gguf.GGUFWriter(str(tmp_path / "int2.gguf"), "llama")
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = field.contents()
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            writer.add_array(key, value)
        else:
            writer.add_key_value(key, value, kind)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, np.asarray(tensor.data), raw_dtype=tensor.tensor_type)
    writer.add_tensor("blk.0.ffn_up.weight", np.zeros((96, 64), dtype=np.int32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(GGUFError) as info:
        convert_gguf(tmp_path / "int2.gguf", tmp_path / "out")
    assert "I32 (1 tensors)" in str(info.value) and "blk.0.ffn_up.weight" in str(info.value)
    assert "Q4_K" in str(info.value) and "Q8_0" in str(info.value)


def test_missing_tensor_and_bad_shapes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "missing.gguf"
    write_tiny_gguf(path, skip=("blk.1.ffn_down.weight",))
    with pytest.raises(GGUFError, match="'blk.1.ffn_down.weight' is missing"):
        convert_gguf(path, tmp_path / "out")
    wrong = tmp_path / "wrong.gguf"
    write_tiny_gguf(wrong, extra={"llama.feed_forward_length": 128})
    with pytest.raises(GGUFError, match=r"ffn_gate.weight' has shape \(96, 64\); the metadata implies \(128, 64\)"):
        convert_gguf(wrong, tmp_path / "out")


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ({"llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": 4.0}, "rotary scaling 'yarn'"),
        ({"tokenizer.ggml.model": "bert"}, "tokenizer type 'bert'.*supported: gpt2, llama"),
        ({"tokenizer.ggml.pre": "made-up"}, "pre-tokenizer 'made-up'.*smollm"),
        ({"llama.attention.head_count_kv": 3}, "4 attention heads cannot share 3"),
    ],
)
def test_unsupported_settings_are_named(tmp_path: Path, extra: dict, pattern: str) -> None:
    path = tmp_path / "odd.gguf"
    write_tiny_gguf(path, extra=extra)
    with pytest.raises(GGUFError, match=pattern):
        convert_gguf(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_a_gguf_file_truncated_file_and_bad_arguments(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("not a model\n")
    with pytest.raises(GGUFError, match="does not start with the bytes 'GGUF'"):
        convert_model(text, tmp_path / "out")
    good = tmp_path / "good.gguf"
    write_tiny_gguf(good)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(GGUFError, match="truncated or damaged"):
        convert_gguf(cut, tmp_path / "out")
    with pytest.raises(GGUFError, match="does not exist"):
        convert_gguf(tmp_path / "absent.gguf", tmp_path / "out")
    with pytest.raises(InvalidSettingError, match="int8_float16"):
        convert_gguf(good, tmp_path / "out", quantization="q4")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("user data")
    with pytest.raises(ConversionError, match="force"):
        convert_gguf(good, tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "user data"
