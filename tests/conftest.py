"""Shared fixtures: the real APIBench files, read in place from ../shared beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.api_index import ApiIndex
from index.calls import PythonCalls

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
APIBENCH = SHARED / "apibench"
API_DIR = APIBENCH / "api"


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
