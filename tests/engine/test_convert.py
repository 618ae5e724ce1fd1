"""convert_model's argument checks and its missing-torch error (torch is not in the dev venv)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.convert import INSTALL_HINT, convert_model
from engine.errors import (
    ConversionDependencyError,
    ConversionError,
    InvalidSettingError,
)


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_missing_torch_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ConversionDependencyError) as info:
        convert_model("gorilla-llm/gorilla-falcon-7b-hf-v0", tmp_path / "out")
    assert INSTALL_HINT in str(info.value)
    assert "pip install 'gorilla-lsp[convert]'" in str(info.value)
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "out").exists()


def test_bad_quantization_lists_valid_values(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettingError, match="int8_float16") as info:
        convert_model("src", tmp_path / "out", quantization="int3")
    assert info.value.setting == "quantization"
    assert "float16" in info.value.valid


def test_existing_output_needs_force(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(ConversionError, match="force"):
        convert_model("src", tmp_path / "out", quantization="int8")
