"""End-to-end: the server publishes what it knows at once and republishes when the (stand-in) hubs answer; settings
`verification.online` and `diagnostics.unverified`; closing a document drops its pending checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.hubs.standin import Fixtures, StandIn
from tests.lsp.conftest import (
    diagnostics_for, initialize, install_status_handler, open_doc, server_command, server_env, wait_for,
)
from tests.lsp.test_features import doc_id
from tests.lsp.test_server import configure

DOC = (
    "import torch\n"
    "from transformers import AutoModelForMagic, AutoModel\n"
    "a = torch.hub.load('pytorch/vision', 'resnet9000')\n"
    "b = AutoModelForMagic.from_pretrained('bert-base-uncased')\n"
    "c = AutoModel.from_pretrained('google/vit-base-patch32-224-in21k')\n"
)


async def start(tmp_path: Path, standin: StandIn | None = None, **env: str) -> LanguageClient:
    extra = {"GORILLA_LSP_CACHE_DIR": str(tmp_path / "cache"), **(standin.environ() if standin else {}), **env}
    client = await ClientServerConfig(server_command=server_command(), server_env=server_env(**extra)).start()
    install_status_handler(client)
    await initialize(client, "visual-studio-code")
    return client


async def stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


async def test_database_verdicts_first_then_the_hubs_answer(tmp_path: Path) -> None:
    slow = StandIn(Fixtures.load(), latency=3.0).__enter__()  # every hub answer takes 3 s
    client = await start(tmp_path, slow, GORILLA_LSP_HUB_TIMEOUT="8")
    try:
        uri = "file:///work/verify.py"
        await open_doc(client, uri, DOC)
        first = await diagnostics_for(client, uri, timeout=2.8)  # published before any hub could answer
        # at most the invented class (once transformers' names are read); nothing that needs a hub
        assert [(d.range.start.line, d.code) for d in first] in ([], [(3, "hallucinated-api")])
        hover = await client.text_document_hover_async(types.HoverParams(text_document=doc_id(uri),
                                                                          position=types.Position(4, 5)))
        assert "Unverified" in hover.contents.value and "is being checked" in hover.contents.value
        final = await diagnostics_for(client, uri, timeout=15, until=lambda d: len(d) == 2)
        assert [(d.range.start.line, d.code) for d in final] == [(2, "hallucinated-api"), (3, "hallucinated-api")]
        assert slow.requests["GET /torchhub/pytorch/vision/main/hubconf.py"] == 1

        async def hover_text() -> str:
            hover = await client.text_document_hover_async(types.HoverParams(text_document=doc_id(uri),
                                                                              position=types.Position(4, 5)))
            return hover.contents.value

        for _ in range(100):  # the Hugging Face answer changes no diagnostic (it exists): watch the hover
            value = await hover_text()
            if "Exists" in value:
                break
            await asyncio.sleep(0.1)
        hover = types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=await hover_text()))
        assert "Exists" in hover.contents.value and "**Hugging Face** confirms it" in hover.contents.value
        assert "/hf/api/models/google/vit-base-patch32-224-in21k" in hover.contents.value

        # a second document with the same ids: answered from memory, no new request
        before = slow.total()
        other = "file:///work/verify2.py"
        await open_doc(client, other, DOC)
        assert len(await diagnostics_for(client, other, timeout=2.8)) == 2 and slow.total() == before
    finally:
        await stop(client)
        slow.__exit__(None, None, None)


async def test_offline_setting_and_unverified_severity(tmp_path: Path) -> None:
    client = await start(tmp_path)
    try:
        uri = "file:///work/offline.py"
        await configure(client, {"verification": {"online": False}})
        await open_doc(client, uri, DOC)
        diagnostics = await diagnostics_for(client, uri, until=lambda d: len(d) == 3)
        codes = [(d.range.start.line, d.code, d.severity) for d in diagnostics]
        assert codes == [(2, "unverified-api", types.DiagnosticSeverity.Information),
                         (3, "hallucinated-api", types.DiagnosticSeverity.Warning),
                         (4, "unverified-api", types.DiagnosticSeverity.Information)]
        assert "could not be verified: offline" in diagnostics[0].message
        client.diagnostics.pop(uri)
        await configure(client, {"diagnostics": {"unverified": "hint"}})
        hints = await diagnostics_for(client, uri, until=lambda d: len(d) == 3)
        assert {d.severity for d in hints if d.code == "unverified-api"} == {types.DiagnosticSeverity.Hint}
        client.diagnostics.pop(uri)
        await configure(client, {"diagnostics": {"unverified": "off"}})
        assert [d.code for d in await diagnostics_for(client, uri, until=lambda d: len(d) == 1)] == ["hallucinated-api"]
        client.diagnostics.pop(uri)
        await configure(client, {"verification": {"online": True}})  # back online: the stand-in answers
        assert len(await diagnostics_for(client, uri, until=lambda d: len(d) == 2)) == 2
        await configure(client, {"diagnostics": {"unverified": "loud"}})
        await wait_for(lambda: any(
            "gorillaLsp.diagnostics.unverified" in m.message and "'information', 'hint', 'off'" in m.message
            for m in client.messages))
        assert any("gorillaLsp.diagnostics.unverified" in m.message and "'information', 'hint', 'off'" in m.message
                   for m in client.messages)
    finally:
        await stop(client)


async def test_settings_flipped_quickly_end_in_the_last_state(tmp_path: Path) -> None:
    """Checks running when `verification.online` flips judged with the other setting: they are neither joined nor
    published (a joined one once left the invented class unflagged for good)."""
    client = await start(tmp_path)
    try:
        uri = "file:///work/flips.py"
        await configure(client, {"verification": {"online": False}})
        await open_doc(client, uri, DOC)
        await diagnostics_for(client, uri, until=lambda d: len(d) == 3)
        for online in (True, False, True, False, True):
            await configure(client, {"verification": {"online": online}})
            await asyncio.sleep(0.005)
        expected = [(2, "hallucinated-api"), (3, "hallucinated-api")]  # and the real ViT: no diagnostic

        def final(d: list[types.Diagnostic]) -> bool:
            return [(x.range.start.line, x.code) for x in d] == expected

        await diagnostics_for(client, uri, until=final)
        await asyncio.sleep(1.0)  # nothing older is published after it
        assert final(list(client.diagnostics[uri]))
    finally:
        await stop(client)


async def test_environment_offline_wins(tmp_path: Path) -> None:
    client = await start(tmp_path, GORILLA_LSP_OFFLINE="1")
    try:
        uri = "file:///work/env-offline.py"
        await open_doc(client, uri, DOC)
        diagnostics = await diagnostics_for(client, uri, until=lambda d: len(d) == 3)
        assert [d.code for d in diagnostics] == ["unverified-api", "hallucinated-api", "unverified-api"]
    finally:
        await stop(client)


async def test_closing_a_document_drops_its_pending_checks(tmp_path: Path) -> None:
    slow = StandIn(Fixtures.load(), latency=3.0).__enter__()
    client = await start(tmp_path, slow, GORILLA_LSP_HUB_TIMEOUT="5")
    try:
        uri = "file:///work/many.py"
        ids = "".join(f"m{i} = AutoModel.from_pretrained('acme/model-{i}')\n" for i in range(12))
        await open_doc(client, uri, "from transformers import AutoModel\n" + ids)
        await diagnostics_for(client, uri)
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id(uri)))
        await diagnostics_for(client, uri, until=lambda d: d == [])
        await asyncio.sleep(4.0)  # long enough for the first requests to end and the queued ones to start
        assert 1 <= slow.total() <= 4  # those already started (4 threads); the others were dropped
    finally:
        await stop(client)
        slow.__exit__(None, None, None)
