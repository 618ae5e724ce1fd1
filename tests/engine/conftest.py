"""Shared fixtures: one tiny random-weight model per test session, built with the product builder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.generator import GorillaGenerator
from engine.tiny_model import (
    TinyModelInfo,
    build_tiny_model,
    corpus_from_records,
    default_corpus,
)

APIBENCH = Path(__file__).resolve().parents[2].parent / "shared" / "apibench"
API_FILES = ("torchhub_api.jsonl", "huggingface_api.jsonl", "tensorflowhub_api.jsonl")


def load_records(name: str) -> list[dict]:
    path = APIBENCH / "api" / name
    if not path.is_file():
        pytest.fail(f"APIBench data not found at {path} (../shared beside the repository)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def apibench_records() -> list[dict]:
    records: list[dict] = []
    for name in API_FILES:
        records.extend(load_records(name))
    return records


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModelInfo:
    texts = default_corpus()
    if (APIBENCH / "api").is_dir():
        for name in API_FILES[:2]:
            texts += corpus_from_records(load_records(name))
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", texts=texts, seed=1234)


@pytest.fixture(scope="session")
def generator(tiny_model: TinyModelInfo) -> Iterator[GorillaGenerator]:
    with GorillaGenerator(tiny_model.path, device="cpu", compute_type="auto", intra_threads=1) as gen:
        yield gen


@pytest.fixture()
def model_copy(tiny_model: TinyModelInfo, tmp_path: Path) -> Path:
    """A private copy of the tiny model directory that a test may damage."""
    target = tmp_path / "model"
    shutil.copytree(tiny_model.path, target)
    return target
