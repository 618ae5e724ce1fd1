"""Converting a model (a Hugging Face checkpoint or a GGUF file) to CTranslate2's format.

Why a wrapper: CTranslate2's `TransformersConverter` needs torch, which serving never does;
torch is imported only here, lazily, and its absence is reported with the install command
(``pip install 'gorilla-lsp[convert]'``). A GGUF file (llama.cpp, Ollama) needs no torch: it goes
to `engine.gguf_convert`. The CLI ``gorilla-lsp model convert SRC OUT [--quantization ...]`` calls
`convert_model`.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import time
from pathlib import Path

import msgspec

from engine.errors import (
    ConversionDependencyError,
    ConversionError,
    InvalidSettingError,
)

logger = logging.getLogger(__name__)

QUANTIZATIONS: tuple[str, ...] = (
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
"""Weight types CTranslate2 can store (``ctranslate2.specs.model_spec.ACCEPTED_MODEL_TYPES``)."""

INSTALL_HINT = "pip install 'gorilla-lsp[convert]'"

ConvertError = ConversionError
"""Alias: the CLI catches conversion failures under this name."""

_TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "generation_config.json",
)


class ConversionResult(msgspec.Struct, frozen=True):
    """Where the converted model went."""

    source: str
    output_dir: str
    quantization: str | None
    seconds: float


def check_quantization(quantization: str | None, none_means: str) -> None:
    """Raise `InvalidSettingError` listing `QUANTIZATIONS` unless ``quantization`` is one of them (or None)."""
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise InvalidSettingError(
            f"quantization={quantization!r} is not valid; expected one of {', '.join(QUANTIZATIONS)} "
            f"or none {none_means}",
            setting="quantization",
            value=quantization,
            valid=QUANTIZATIONS,
        )


def is_gguf_source(src: str | Path) -> bool:
    """Whether ``src`` names a GGUF file: a ``.gguf`` path, or a file that starts with the GGUF magic bytes."""
    from engine.gguf_model import is_gguf_file

    path = Path(src).expanduser()
    return path.suffix.lower() == ".gguf" or is_gguf_file(path)


def _require_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise ConversionDependencyError(
            "converting a Hugging Face checkpoint needs PyTorch, which is not installed in this "
            f"environment; install the conversion extras with: {INSTALL_HINT} "
            "(serving the converted model does not need torch)"
        )


def convert_model(
    src: str | Path,
    out: str | Path,
    quantization: str | None = None,
    force: bool = False,
    *,
    trust_remote_code: bool = False,
    low_cpu_mem_usage: bool = True,
) -> ConversionResult:
    """Convert ``src`` (a local checkpoint directory, a Hub id or a ``.gguf`` file) into the directory ``out``.

    ``quantization`` stores the weights in that type (None keeps the checkpoint's type;
    "int8_float16" is a good choice for GPUs, "int8" for CPUs: the type can still be changed
    at load time with the generator's ``compute_type``). ``force`` replaces an existing
    ``out``. ``trust_remote_code`` is needed for checkpoints with custom model code, such as
    gorilla-falcon-7b-hf-v0 (RefinedWeb) and gorilla-mpt-7b-hf-v0. The tokenizer is saved
    next to the model, as `engine.generator.GorillaGenerator` expects. A GGUF file is converted
    by `engine.gguf_convert.convert_gguf` (no torch; None picks int8 for a quantized file).
    """
    if is_gguf_source(src):
        from engine.gguf_convert import convert_gguf

        return convert_gguf(src, out, quantization=quantization, force=force)
    check_quantization(quantization, "to keep the checkpoint's type")
    output_dir = Path(out).expanduser()
    if output_dir.exists() and not force:
        raise ConversionError(f"output directory {output_dir} already exists; pass force=True (--force) to replace it")
    source = str(Path(src).expanduser()) if Path(src).expanduser().exists() else str(src)
    _require_torch()

    from ctranslate2.converters import TransformersConverter
    from transformers import AutoTokenizer

    local = Path(source).is_dir()
    copy_files = [name for name in _TOKENIZER_FILES if local and (Path(source) / name).is_file()]
    start = time.perf_counter()
    logger.info("converting %s to %s (quantization=%s)", source, output_dir, quantization)
    try:
        converter = TransformersConverter(
            source,
            copy_files=copy_files or None,
            low_cpu_mem_usage=low_cpu_mem_usage,
            trust_remote_code=trust_remote_code,
        )
        converter.convert(str(output_dir), quantization=quantization, force=force)
        if not (output_dir / "tokenizer.json").is_file():
            # Fast tokenizer file for AutoTokenizer at serving time (e.g. from a LLaMA
            # sentencepiece model); transformers converts it once here.
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
            tokenizer.save_pretrained(str(output_dir))
    except Exception as exc:
        if output_dir.exists() and not (output_dir / "model.bin").is_file():
            shutil.rmtree(output_dir, ignore_errors=True)
        raise ConversionError(f"converting {source} to {output_dir} failed: {exc}") from exc
    seconds = time.perf_counter() - start
    logger.info("converted %s in %.0f s", source, seconds)
    return ConversionResult(source=source, output_dir=str(output_dir), quantization=quantization, seconds=seconds)
