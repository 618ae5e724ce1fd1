"""End-to-end: settings, model loading and cancellation, database reload, and bad input (VS Code client)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.conftest import (
    API_DB, diagnostics_for, flagged, initialize, install_status_handler, open_doc, server_command, server_env, status_log,
    status_of, wait_for,
)
from tests.lsp.test_features import CHECK_DOC, INVENTED, REQUEST_DOC, doc_id


def completion_params(uri: str, line: int, character: int) -> types.CompletionParams:
    return types.CompletionParams(text_document=doc_id(uri), position=types.Position(line, character))


async def send_raw(client: LanguageClient, msg_id: str, method: str, params: dict) -> object:
    """Send a request the client library would refuse to build (invalid params) and await its answer."""
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    client.protocol.writer.write(f"Content-Length: {len(body.encode())}\r\n\r\n{body}".encode())
    return await asyncio.wait_for(asyncio.wrap_future(future), 10)


async def configure(client: LanguageClient, settings: dict) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"gorillaLsp": settings}))


async def test_settings_validation_and_effects(vscode: LanguageClient) -> None:
    uri = "file:///work/settings.py"
    await open_doc(vscode, uri, CHECK_DOC)
    await diagnostics_for(vscode, uri, until=flagged(2))  # once the (stand-in) hubs have answered
    vscode.diagnostics.pop(uri)
    await configure(vscode, {"completion": {"maxCandidates": 2}, "diagnostics": {"severity": "error"},
                             "retrieval": {"topK": 500}, "colour": "red"})
    # A publication already under way (a hub answer, transformers' names read) may still come with the old severity.
    errors = await diagnostics_for(vscode, uri, until=lambda d: flagged(2)(d) and {x.severity for x in d} == {
        types.DiagnosticSeverity.Error})
    assert len(errors) == 2
    texts = [m.message for m in vscode.messages]
    assert any("gorillaLsp.retrieval.topK" in t and "<= 50" in t and "keeping the previous value" in t for t in texts)
    assert any("gorillaLsp.colour" in t and "unknown setting" in t for t in texts)
    await open_doc(vscode, "file:///work/settings2.py", REQUEST_DOC)
    result = await vscode.text_document_completion_async(completion_params("file:///work/settings2.py", 1, 0))
    assert len(result.items) == 2

    vscode.diagnostics.pop(uri)
    await configure(vscode, {"diagnostics": {"enabled": False}})
    assert await diagnostics_for(vscode, uri, until=lambda d: d == []) == []


async def test_initialization_options_bare_dict_and_problems() -> None:
    client = await ClientServerConfig(server_command=server_command(), server_env=server_env()).start()
    install_status_handler(client)
    try:
        await initialize(client, "visual-studio-code", {"completion": {"maxCandidates": 1, "hallucinated": "maybe"}})
        assert any("gorillaLsp.completion.hallucinated" in m.message and "'warn', 'hide'" in m.message
                   for m in client.messages)
        await open_doc(client, "file:///work/o.py", REQUEST_DOC)
        result = await client.text_document_completion_async(completion_params("file:///work/o.py", 1, 0))
        assert len(result.items) == 1
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_model_loading_cancellation_and_failure(vscode: LanguageClient, slow_model: str,
                                                      scripted_model: str, tmp_path: Path) -> None:
    uri = "file:///work/model.py"
    await open_doc(vscode, uri, "import torch\n" + REQUEST_DOC)
    await configure(vscode, {"model": {"path": slow_model, "device": "cpu"}})
    await wait_for(lambda: status_of(vscode).get("engine") == "ctranslate2" and status_of(vscode)["state"] == "ready",
                   timeout=60)
    states = [s["state"] for s in status_log(vscode)]
    assert states[-2:] == ["loading", "ready"] and status_of(vscode)["device"] == "cpu"
    token, reports = next(iter(vscode.progress_reports.items()))
    assert [r.kind for r in reports] == ["begin", "end"] and "slow-gorilla" in reports[0].message

    # $/cancelRequest stops a generation in flight (this model needs over a second per request)
    started = time.monotonic()
    request = asyncio.ensure_future(vscode.protocol.send_request_async(  # a coroutine: start it now
        types.TEXT_DOCUMENT_COMPLETION, completion_params(uri, 2, 0), msg_id="cancel-me"))
    await asyncio.sleep(0.3)
    vscode.protocol.notify("$/cancelRequest", types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcException) as error:
        await request
    assert error.value.code == -32800 and time.monotonic() - started < 1.5

    # a newer request for the same document supersedes the one in flight
    first = asyncio.ensure_future(vscode.text_document_completion_async(completion_params(uri, 2, 0)))
    await asyncio.sleep(0.2)
    second = asyncio.ensure_future(vscode.text_document_completion_async(completion_params(uri, 2, 0)))
    with pytest.raises(JsonRpcException) as error:
        await first
    assert error.value.code == -32800
    assert (await second).items  # the model said nothing usable: retrieval fills the list

    # ghost text and a completion list for the same line (VS Code asks for both) do not cancel each other
    listed = asyncio.ensure_future(vscode.text_document_completion_async(completion_params(uri, 2, 0)))
    await asyncio.sleep(0.2)
    ghost = asyncio.ensure_future(vscode.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(2, 0),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))))
    assert (await listed).items and (await ghost).items

    # a model that invents a call: shown last, with a warning
    await configure(vscode, {"model": {"path": scripted_model, "device": "cpu"}})
    await wait_for(lambda: status_of(vscode).get("state") == "ready" and "scripted" in (status_of(vscode)["model"] or ""),
                   timeout=60)
    result = await vscode.text_document_completion_async(completion_params(uri, 2, 0))
    flagged = [i for i in result.items if i.tags]
    assert len(flagged) == 1 and "resnet9000" in flagged[0].label and flagged[0].detail.startswith("⚠")
    assert result.items[-1] is flagged[0]  # hallucinated suggestions come last

    broken = tmp_path / "broken-model"
    broken.mkdir()
    await configure(vscode, {"completion": {"hallucinated": "hide"}, "model": {"path": str(broken)}})
    await wait_for(lambda: status_of(vscode).get("state") == "error")
    assert status_of(vscode)["engine"] == "retrieval" and str(broken) in status_of(vscode)["message"]
    assert any(m.type == types.MessageType.Error and str(broken) in m.message for m in vscode.messages)
    result = await vscode.text_document_completion_async(completion_params(uri, 2, 0))
    assert result.items and not any(i.tags for i in result.items)  # retrieval only again


async def test_missing_model_engine_is_a_model_error(tmp_path: Path) -> None:
    env = server_env(GORILLA_LSP_MODEL_LOADER="engine.no_such_module:load_model_source")
    client = await ClientServerConfig(server_command=server_command(), server_env=env).start()
    install_status_handler(client)
    try:
        await initialize(client, "neovim@v0.7.0", {"gorillaLsp": {"model": {"path": str(tmp_path)}}})
        await wait_for(lambda: status_of(client).get("state") == "error")
        assert "not available" in status_of(client)["message"]
        await open_doc(client, "file:///work/m.py", REQUEST_DOC)
        assert (await client.text_document_completion_async(completion_params("file:///work/m.py", 1, 0))).items
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_database_reload_watch_and_broken_file(tmp_path: Path) -> None:
    db = tmp_path / "api"
    db.mkdir()
    shutil.copy(API_DB / "torchhub_api.jsonl", db / "torchhub_api.jsonl")
    client = await ClientServerConfig(server_command=server_command(api_db=db), server_env=server_env()).start()
    install_status_handler(client)
    try:
        await initialize(client, "visual-studio-code")
        uri = "file:///work/reload.py"
        await open_doc(client, uri, f"import torch\nm = {INVENTED}\n")
        assert len(await diagnostics_for(client, uri, until=flagged(1))) == 1

        # the file gains a record for the invented model: the watcher reloads and the diagnostic goes
        record = json.loads((db / "torchhub_api.jsonl").read_text().splitlines()[0])
        record["api_call"] = "torch.hub.load(repo_or_dir='pytorch/vision', model='resnet9000', pretrained=True)"
        with open(db / "torchhub_api.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        client.diagnostics.pop(uri)
        assert await diagnostics_for(client, uri, timeout=8, until=lambda d: d == []) == []

        # a broken file: the command reloads, the good records still load, the problem is reported
        with open(db / "torchhub_api.jsonl", "a") as f:
            f.write("{not json\n")
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="gorilla.reloadApiDatabase"))
        assert result["reloaded"] is True and result["apis"] > 90 and result["errors"]
        assert any("could not be read" in m.message for m in client.messages)

        # nothing loadable at all: the previous database keeps serving
        (db / "torchhub_api.jsonl").write_text("garbage\n")
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="gorilla.reloadApiDatabase"))
        assert result["reloaded"] is False and result["apis"] > 90
        assert any("still serving the previous one" in m.message for m in client.messages)
        await open_doc(client, "file:///work/r2.py", REQUEST_DOC)
        assert (await client.text_document_completion_async(completion_params("file:///work/r2.py", 1, 0))).items
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_bad_positions_and_unopened_documents(vscode: LanguageClient) -> None:
    uri = "file:///work/bad.py"
    await open_doc(vscode, uri, REQUEST_DOC)
    assert await vscode.text_document_completion_async(completion_params(uri, 999, 0)) is None
    assert (await vscode.text_document_completion_async(completion_params(uri, 1, 9999))).items
    assert await vscode.text_document_hover_async(
        types.HoverParams(text_document=doc_id(uri), position=types.Position(5000, 5000))) is None
    # a negative position is not a valid message: an error answer, and the server goes on
    with pytest.raises(JsonRpcException):
        await send_raw(vscode, "negative", types.TEXT_DOCUMENT_COMPLETION, {
            "textDocument": {"uri": uri}, "position": {"line": -1, "character": -5}})
    unopened = "file:///work/never-opened.py"
    assert await vscode.text_document_completion_async(completion_params(unopened, 0, 0)) is None
    assert await vscode.text_document_hover_async(
        types.HoverParams(text_document=doc_id(unopened), position=types.Position(0, 0))) is None
    assert await vscode.text_document_code_action_async(types.CodeActionParams(
        text_document=doc_id(unopened), range=types.Range(types.Position(0, 0), types.Position(0, 1)),
        context=types.CodeActionContext(diagnostics=[]))) is None
    vscode.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=unopened, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="x")]))
    with pytest.raises(JsonRpcException):
        await vscode.workspace_execute_command_async(types.ExecuteCommandParams(command="gorilla.nope"))
    assert (await vscode.text_document_completion_async(completion_params(uri, 1, 0))).items  # still serving


async def test_lone_surrogates(vscode: LanguageClient) -> None:
    uri = "file:///work/surrogates.py"
    text = f"import torch\ns = '\ud800'; bad = {INVENTED}\n# classify images \udfff\n\n"
    await open_doc(vscode, uri, text)
    diagnostics = await diagnostics_for(vscode, uri, until=flagged(1))
    model_at = len("s = '\ud800'; bad = ") + INVENTED.index("'resnet9000'")
    assert len(diagnostics) == 1 and diagnostics[0].range.start == types.Position(1, model_at)
    result = await vscode.text_document_completion_async(completion_params(uri, 3, 0))
    assert result.items and result.items[0].text_edit.range.start == types.Position(3, 0)


async def test_large_file_and_change_storm(vscode: LanguageClient) -> None:
    block = "".join(f"def f{i}(x):\n    return x * {i}  # just code\n" for i in range(40))
    big = "import torch\n" + block * (5_000_000 // len(block)) + f"bad = {INVENTED}\n# classify images\n\n"
    assert len(big) >= 4_900_000
    lines = big.count("\n")
    uri = "file:///work/big.py"
    started = time.monotonic()
    await open_doc(vscode, uri, big)
    result = await vscode.text_document_completion_async(completion_params(uri, lines - 1, 0))
    assert result.items
    diagnostics = await diagnostics_for(vscode, uri, timeout=30, until=flagged(1))
    assert [d.range.start.line for d in diagnostics] == [lines - 3]
    assert time.monotonic() - started < 20

    # 1,000 incremental changes in about a second, then the state must be exactly right
    small = "file:///work/storm.py"
    await open_doc(vscode, small, "import torch\nm = \n")
    call = INVENTED * 2
    for version, char in enumerate(call * 11, start=2):
        if version > 1001:
            break
        vscode.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=small, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(1, 4 + version - 2), types.Position(1, 4 + version - 2)), text=char)]))
        if version % 100 == 0:
            await asyncio.sleep(0.05)
    # then replace the line with one invented call
    vscode.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=small, version=1002),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(1, 0), types.Position(2, 0)), text=f"m = {INVENTED}\n")]))
    vscode.diagnostics.pop(small, None)
    diagnostics = await diagnostics_for(vscode, small, until=flagged(1))
    assert len(diagnostics) == 1 and diagnostics[0].range.start == types.Position(1, 4 + INVENTED.index("'resnet9000'"))
    assert diagnostics[0].range.end == types.Position(1, 4 + len(INVENTED) - 1)
