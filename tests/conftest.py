"""Shared fixtures: the real APIBench files, read in place from ../shared beside the repository.

No test may reach a real model hub: before any test runs, every hub endpoint (and every cache a client could read) is
pointed at a stand-in on 127.0.0.1 and at empty folders, for this process and every process it starts, and this
process refuses to open a connection (or resolve a name) anywhere but the loopback interface.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.hubs.standin import Fixtures, StandIn

from index.api_index import ApiIndex
from index.calls import PythonCalls

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
APIBENCH = SHARED / "apibench"
API_DIR = APIBENCH / "api"
REAL_MODEL_DIR = REPO / ".cache" / "test-models" / "smollm2-135m-instruct-int8"


_LOOPBACK = {"127.0.0.1", "::1", "localhost", "", None}
_STATE: dict[str, object] = {}


def _loopback_only(real):
    def guarded(sock: socket.socket, address, *args, **kwargs):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            raise OSError(f"tests may only reach 127.0.0.1, not {address[0]}")
        return real(sock, address, *args, **kwargs)

    return guarded


def _resolve_loopback_only(real):
    def guarded(host, *args, **kwargs):
        if host not in _LOOPBACK:
            raise socket.gaierror(f"tests may only reach 127.0.0.1, not {host}")
        return real(host, *args, **kwargs)

    return guarded


def _point_everything_at_the_standin() -> None:
    """Runs when this conftest is imported: before any other conftest builds a server environment from os.environ."""
    home = Path(tempfile.mkdtemp(prefix="gorilla-hubs-"))
    standin = StandIn(Fixtures.load(), slow_seconds=12.0).__enter__()
    _STATE.update(standin=standin, home=home)
    for name in ("GORILLA_LSP_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_HUB_CACHE", "HUGGING_FACE_HUB_TOKEN",
                 "XDG_CACHE_HOME"):
        os.environ.pop(name, None)
    os.environ.update(standin.environ())
    os.environ.update({
        "GORILLA_LSP_CACHE_DIR": str(home / "gorilla-cache"), "TORCH_HOME": str(home / "torch"),
        # A loaded CI machine answers slowly; the stand-in's `slow` ids (12 s) still time out.
        "HF_HOME": str(home / "huggingface"), "GORILLA_LSP_HUB_TIMEOUT": "10",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    socket.socket.connect = _loopback_only(socket.socket.connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _loopback_only(socket.socket.connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = _resolve_loopback_only(socket.getaddrinfo)  # type: ignore[assignment]


_point_everything_at_the_standin()


def pytest_configure(config: pytest.Config) -> None:
    if not API_DIR.is_dir():
        raise pytest.UsageError(f"the APIBench data is missing: expected {API_DIR} (../shared beside the repository)")


def pytest_unconfigure(config: pytest.Config) -> None:
    standin = _STATE.pop("standin", None)
    if isinstance(standin, StandIn):
        standin.__exit__(None, None, None)
    home = _STATE.pop("home", None)
    if isinstance(home, Path):
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def hub_standin() -> StandIn:
    """The stand-in hubs every test (and every process a test starts) is pointed at."""
    standin = _STATE["standin"]
    assert isinstance(standin, StandIn)
    return standin


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
