"""Every load/setting/runtime failure of the generator gives a clear, typed error."""

from __future__ import annotations

from pathlib import Path

import ctranslate2
import pytest

from engine import generator as generator_module
from engine.errors import (
    DeviceUnavailableError,
    EngineOutOfMemoryError,
    GenerationError,
    InvalidSettingError,
    ModelLoadError,
    TokenizerLoadError,
    UnsupportedComputeTypeError,
)
from engine.generator import (
    GenerationOptions,
    GorillaGenerator,
    is_out_of_memory,
    resolve_compute_type,
)
from engine.stopping import NO_STOP


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ModelLoadError, match="does not exist") as info:
        GorillaGenerator(missing, device="cpu")
    assert info.value.path == str(missing)
    assert "model.bin" in str(info.value)


def test_file_instead_of_directory(tmp_path: Path) -> None:
    file = tmp_path / "model.bin"
    file.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        GorillaGenerator(file, device="cpu")


def test_directory_without_model_bin(model_copy: Path) -> None:
    (model_copy / "model.bin").unlink()
    with pytest.raises(ModelLoadError, match="missing model.bin") as info:
        GorillaGenerator(model_copy, device="cpu")
    assert str(model_copy) in str(info.value)


def test_unconverted_checkpoint_gets_a_convert_hint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="gorilla-lsp model convert"):
        GorillaGenerator(tmp_path, device="cpu")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_model_bin(model_copy: Path, damage: str) -> None:
    model_bin = model_copy / "model.bin"
    data = model_bin.read_bytes()
    model_bin.write_bytes(b"\x00garbage" * 64 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="cannot load the model") as info:
        GorillaGenerator(model_copy, device="cpu")
    assert info.value.path == str(model_copy)
    assert not isinstance(info.value, TokenizerLoadError)


def test_missing_tokenizer(model_copy: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (model_copy / name).unlink()
    with pytest.raises(TokenizerLoadError, match="no tokenizer") as info:
        GorillaGenerator(model_copy, device="cpu")
    assert "tokenizer.json" in str(info.value)
    assert info.value.path == str(model_copy)


def test_corrupt_tokenizer(model_copy: Path) -> None:
    (model_copy / "tokenizer.json").write_text("{not json")
    with pytest.raises(TokenizerLoadError, match="cannot load the tokenizer"):
        GorillaGenerator(model_copy, device="cpu")


@pytest.mark.skipif(ctranslate2.get_cuda_device_count() > 0, reason="this machine has CUDA")
def test_cuda_requested_without_cuda(tiny_model) -> None:
    with pytest.raises(DeviceUnavailableError, match="no CUDA device") as info:
        GorillaGenerator(tiny_model.path, device="cuda")
    assert info.value.setting == "device"
    assert info.value.valid == ("auto", "cpu")


def test_unknown_device_lists_valid_values(tiny_model) -> None:
    with pytest.raises(InvalidSettingError, match="auto, cpu, cuda") as info:
        GorillaGenerator(tiny_model.path, device="tpu")
    assert info.value.valid == ("auto", "cpu", "cuda")


@pytest.mark.parametrize("compute_type", ["float16", "int4", "bogus"])
def test_unsupported_compute_type_lists_valid_values(tiny_model, compute_type: str) -> None:
    supported = ctranslate2.get_supported_compute_types("cpu")
    if compute_type in supported:  # a CPU with float16 support: take a type no CPU backend has
        compute_type = "int8_float16" if "int8_float16" not in supported else "bogus"
    with pytest.raises(UnsupportedComputeTypeError) as info:
        GorillaGenerator(tiny_model.path, device="cpu", compute_type=compute_type)
    message = str(info.value)
    assert repr(compute_type) in message
    for valid in supported:
        assert valid in message
        assert valid in info.value.valid


def test_auto_compute_type_on_cpu_is_int8() -> None:
    assert resolve_compute_type("auto", "cpu") == "int8"


def test_explicit_supported_compute_type_loads(tiny_model) -> None:
    with GorillaGenerator(tiny_model.path, device="cpu", compute_type="float32") as gen:
        assert gen.info().compute_type == "float32"
        result = gen.generate("hello", GenerationOptions(max_new_tokens=2, min_new_tokens=2, stop=NO_STOP))
        assert len(result.candidates[0].token_ids) == 2


@pytest.mark.parametrize(("name", "value"), [("inter_threads", 0), ("intra_threads", -1)])
def test_bad_thread_counts(tiny_model, name: str, value: int) -> None:
    with pytest.raises(InvalidSettingError, match=name):
        GorillaGenerator(tiny_model.path, device="cpu", **{name: value})


def test_out_of_memory_while_loading(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    def oom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CUDA failed with error out of memory")

    monkeypatch.setattr(ctranslate2, "Generator", oom)
    with pytest.raises(EngineOutOfMemoryError, match="out of memory loading") as info:
        GorillaGenerator(tiny_model.path, device="cpu", compute_type="int8")
    assert info.value.path == tiny_model.path
    assert info.value.compute_type == "int8"
    assert info.value.device == "cpu"


class _FailingCT2:
    """Stands in for ctranslate2.Generator to inject runtime failures."""

    compute_type = "int8_float32"

    def __init__(self, message: str) -> None:
        self.message = message

    def generate_batch(self, *args: object, **kwargs: object) -> list[object]:
        if kwargs.get("asynchronous"):  # the failure surfaces later, from the worker
            message = self.message

            class _Async:
                def result(self) -> None:
                    raise RuntimeError(message)

            return [_Async()]
        raise RuntimeError(self.message)


@pytest.mark.parametrize("strategy", ["sample", "greedy", "beam"])
def test_out_of_memory_while_generating(tiny_model, strategy: str) -> None:
    gen = GorillaGenerator(tiny_model.path, device="cpu")
    try:
        gen._ct2 = _FailingCT2("std::bad_alloc")
        with pytest.raises(EngineOutOfMemoryError, match="out of memory generating") as info:
            n = 1 if strategy == "greedy" else 2
            gen.generate("hello", GenerationOptions(strategy=strategy, num_candidates=n))  # type: ignore[arg-type]
        assert info.value.path == tiny_model.path
    finally:
        gen.close()


def test_other_runtime_failure_is_a_generation_error(tiny_model) -> None:
    gen = GorillaGenerator(tiny_model.path, device="cpu")
    try:
        gen._ct2 = _FailingCT2("some token is out of range")
        with pytest.raises(GenerationError, match="out of range"):
            gen.generate("hello")
    finally:
        gen.close()


def test_generating_after_close_fails_clearly(tiny_model) -> None:
    gen = GorillaGenerator(tiny_model.path, device="cpu")
    gen.close()
    gen.close()  # idempotent
    with pytest.raises(GenerationError, match="closed"):
        gen.generate("hello")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("CUDA failed with error out of memory", True),
        ("std::bad_alloc", True),
        ("CUBLAS_STATUS_ALLOC_FAILED", True),
        ("vocabulary mismatch", False),
    ],
)
def test_out_of_memory_detection(message: str, expected: bool) -> None:
    assert is_out_of_memory(RuntimeError(message)) is expected
    assert generator_module.is_out_of_memory(MemoryError()) is True
