"""Shared fixtures: the real APIBench files, read in place from ../shared beside the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from index.api_index import ApiIndex
from index.calls import PythonCalls

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
APIBENCH = SHARED / "apibench"
API_DIR = APIBENCH / "api"
REAL_MODEL_DIR = REPO / ".cache" / "test-models" / "smollm2-135m-instruct-int8"


def pytest_configure(config: pytest.Config) -> None:
    if not API_DIR.is_dir():
        raise pytest.UsageError(f"the APIBench data is missing: expected {API_DIR} (../shared beside the repository)")


@pytest.fixture(scope="session")
def parser() -> PythonCalls:
    return PythonCalls()


@pytest.fixture(scope="session")
def api_index(parser: PythonCalls) -> ApiIndex:
    """The whole APIBench database (all three hubs)."""
    return ApiIndex.load([API_DIR], parser)


@pytest.fixture(scope="session")
def hub_index(parser: PythonCalls):
    """One ApiIndex per hub file, as the per-hub evaluation uses."""
    cache: dict[str, ApiIndex] = {}

    def get(hub: str) -> ApiIndex:
        if hub not in cache:
            cache[hub] = ApiIndex.load([API_DIR / f"{hub}_api.jsonl"], parser)
        return cache[hub]

    return get


@pytest.fixture(scope="session")
def real_model() -> tuple[str, str]:
    """SmolLM2-135M-Instruct converted from its GGUF file to CTranslate2 int8 once per test run, with --verify.

    Returns (model directory, the converter's output). The folder is `.cache/test-models/` (gitignored).
    """
    from tests.real_model import smollm2_gguf

    try:
        gguf = smollm2_gguf()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    run = subprocess.run(
        [sys.executable, "-m", "lsp_server", "model", "convert", str(gguf), str(REAL_MODEL_DIR),
         "--quantization", "int8", "--force", "--verify"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    return str(REAL_MODEL_DIR), run.stdout
