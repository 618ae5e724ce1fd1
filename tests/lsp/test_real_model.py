"""End-to-end: the language server with a real language model (SmolLM2-135M-Instruct, converted from GGUF).

The real `gorilla-lsp serve` process over stdio, a VS Code-like client, the model loaded from the `model.path` setting
with the `chat` prompt preset. A 135M model rarely writes an API call; here the file imports torch and the comment
names a loader call, so it copies the retrieved record's call (a real one). Invented calls from the real model are
tested through `complete --model` (tests/engine/test_real_model.py); the server's display of them with a scripted
model (tests/lsp/test_server.py).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp.conftest import open_doc, status_of, wait_for
from tests.lsp.test_server import completion_params, configure

# An ask (commented-out code alone gets no suggestion); with one document in its prompt the model copies its call.
DOC = "import torch\n# please load torch.hub.load('pytorch/vision', 'resnet9000')\n\n"


async def test_real_model_candidates_verdicts_and_cancellation(vscode: LanguageClient,
                                                               real_model: tuple[str, str]) -> None:
    path = real_model[0]
    uri = "file:///work/real_model.py"
    await open_doc(vscode, uri, DOC)
    await configure(vscode, {"model": {"path": path, "device": "cpu", "computeType": "int8", "template": "chat"},
                             "completion": {"maxCandidates": 1}, "retrieval": {"topK": 1, "hybrid": False}})
    await wait_for(lambda: status_of(vscode).get("state") == "ready" and status_of(vscode).get("model") == path,
                   timeout=120)
    assert status_of(vscode)["engine"] == "ctranslate2"

    result = await vscode.text_document_completion_async(completion_params(uri, 2, 0))
    [item] = result.items
    assert item.data["source"] == "model" and item.data["verdict"] == "known", item
    assert item.detail.startswith("torch.hub.load(repo_or_dir=") and not item.tags  # the label is the model id

    # $/cancelRequest while the model is generating (up to 128 tokens at a few dozen tokens/s on this CPU)
    await configure(vscode, {"completion": {"maxCandidates": 3}})  # sampled candidates: no early stop
    await asyncio.sleep(0.5)
    request = asyncio.ensure_future(vscode.protocol.send_request_async(
        types.TEXT_DOCUMENT_COMPLETION, completion_params(uri, 2, 0), msg_id="cancel-real"))
    await asyncio.sleep(1.0)
    cancelled_at = time.monotonic()
    vscode.protocol.notify("$/cancelRequest", types.CancelParams(id="cancel-real"))
    with pytest.raises(JsonRpcException) as error:
        await request
    assert error.value.code == -32800 and time.monotonic() - cancelled_at < 2.0

    # the server still answers afterwards, hiding invented calls when told to
    await configure(vscode, {"completion": {"hallucinated": "hide", "maxCandidates": 1}})
    await asyncio.sleep(0.5)
    result = await vscode.text_document_completion_async(completion_params(uri, 2, 0))
    assert result.items and all(i.data["verdict"] == "known" and not i.tags for i in result.items)
