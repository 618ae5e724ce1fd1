"""End-to-end fixtures: the real `gorilla-lsp serve` process over stdio, as VS Code and Neovim describe themselves."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

REPO = Path(__file__).resolve().parents[2]
API_DB = (REPO / ".." / "shared" / "apibench" / "api").resolve()
CLIENTS = ["visual-studio-code", "neovim@v0.7.0"]


def server_command(*extra: str, api_db: Path | str = API_DB) -> list[str]:
    verbose = ["-v"] * int(os.environ.get("GORILLA_TEST_SERVER_VERBOSE", "0"))  # server logs on stderr
    return [sys.executable, "-m", "lsp_server", *verbose, "serve", "--api-db", str(api_db), *extra]


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def config(**env: str) -> ClientServerConfig:
    return ClientServerConfig(server_command=server_command(), server_env=server_env(**env))


async def initialize(client: LanguageClient, spec: str, options: Any = None) -> types.InitializeResult:
    params = types.InitializeParams(capabilities=client_capabilities(spec), initialization_options=options)
    result = await client.initialize_session(params)
    await wait_for(lambda: status_of(client).get("state") in ("ready", "error"))
    return result


def status_log(client: LanguageClient) -> list[dict[str, Any]]:
    """`gorilla/status` notifications received so far (recorded by the handler the fixtures install)."""
    return client.__dict__.setdefault("gorilla_status", [])


def status_of(client: LanguageClient) -> dict[str, Any]:
    log = status_log(client)
    return log[-1] if log else {}


def install_status_handler(client: LanguageClient) -> None:
    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: Any) -> None:
        # VS Code accepts dynamic registration (the server registers didChangeConfiguration); unanswered, pytest-lsp
        # reports the request as an error in whichever test is running when it arrives.
        return None

    @client.feature("gorilla/status")
    def _status(params: Any) -> None:
        value = params if isinstance(params, dict) else params._asdict()  # pygls: a namedtuple for custom methods
        status_log(client).append(value)


async def wait_for(condition, timeout: float = 10.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        await asyncio.sleep(interval)


async def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))


async def diagnostics_for(
    client: LanguageClient, uri: str, timeout: float = 10.0, until: Callable[[list[types.Diagnostic]], bool] | None = None
) -> list[types.Diagnostic]:
    """The document's published diagnostics; with `until`, the first publication that satisfies it (ids that only a
    hub can settle are published again when the hub answers)."""
    await wait_for(lambda: uri in client.diagnostics and (until is None or until(list(client.diagnostics[uri]))),
                   timeout)
    return list(client.diagnostics[uri])


def flagged(n: int) -> Callable[[list[types.Diagnostic]], bool]:
    """`until=` for "exactly n hallucinated calls": a publication before the hubs answer holds unverified ones."""
    return lambda found: len(found) == n and all(d.code == "hallucinated-api" for d in found)


@pytest_lsp.fixture(config=config(), params=CLIENTS)
async def client(lsp_client: LanguageClient, request):
    install_status_handler(lsp_client)
    lsp_client.__dict__["spec"] = request.param
    await initialize(lsp_client, request.param)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=config())
async def vscode(lsp_client: LanguageClient):
    install_status_handler(lsp_client)
    await initialize(lsp_client, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


INVENTED_ANSWER = "<<<api_call>>>: torch.hub.load('pytorch/vision', 'resnet9000'), <<<api_provider>>>: PyTorch"


@pytest.fixture(scope="session")
def scripted_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real CTranslate2 model that answers with an invented call (so the server must flag it)."""
    from engine.tiny_model import build_scripted_model

    return build_scripted_model(tmp_path_factory.mktemp("models") / "scripted-gorilla", INVENTED_ANSWER).path


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real CTranslate2 model large enough to take over a second per request (to cancel it mid-generation)."""
    from engine.tiny_model import DecoderGeometry, build_scripted_model

    geometry = DecoderGeometry(num_layers=12, num_heads=12, hidden_size=768, ffn_size=2048, vocab_size=600)
    return build_scripted_model(tmp_path_factory.mktemp("models") / "slow-gorilla", None, geometry=geometry).path


def pytest_configure(config: pytest.Config) -> None:
    # A result the client's stated capabilities do not allow is a failure, not a warning.
    config.addinivalue_line("filterwarnings", "error::pytest_lsp.checks.LspSpecificationWarning")
