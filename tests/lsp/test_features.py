"""End-to-end: completion, inline completion, diagnostics, hover and quick fixes, as VS Code and Neovim clients."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.conftest import diagnostics_for, flagged, open_doc, status_of

REQUEST_DOC = "# classify actions in a video, under 10M parameters\n\nprint('done')\n"
INVENTED = "torch.hub.load('pytorch/vision', 'resnet9000')"
CHECK_DOC = (
    "import torch\n"
    "import tensorflow_hub as hub\n"
    "\n"
    f"x = '😋'; bad = {INVENTED}\n"
    "good = torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50', pretrained=True)\n"
    "layer = hub.KerasLayer('https://tfhub.dev/google/imagenet/mobilenet_v2_999_224/classification/4')\n"
)


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply non-overlapping edits (UTF-16 columns on ASCII text) the way an editor does."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    def at(p: types.Position) -> int:
        return offsets[p.line] + p.character
    for edit in sorted(edits, key=lambda e: at(e.range.start), reverse=True):
        text = text[: at(edit.range.start)] + edit.new_text + text[at(edit.range.end):]
    return text


def doc_id(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def test_ready_status_and_capabilities(client: LanguageClient) -> None:
    assert status_of(client) == {"state": "ready", "engine": "retrieval", "model": None, "device": None,
                                 "message": "1056 APIs", "progress": None}


async def test_completion_on_a_comment(client: LanguageClient) -> None:
    uri = "file:///work/request.py"
    await open_doc(client, uri, REQUEST_DOC)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc_id(uri), position=types.Position(1, 0)))
    assert isinstance(result, types.CompletionList) and len(result.items) == 5
    first = result.items[0]
    # A short label (the entrypoint), the task beside it, the full call in the detail.
    assert first.label == "x3d_s"  # 3.79M parameters: meets the limit
    assert first.label_details.description == "video-classification"
    call = first.detail.split(" · ")[0]
    assert call.startswith("torch.hub.load(") and "'x3d_s'" in call
    assert "✓ params <= 10M" in first.detail and "Video Classification" in first.detail
    assert first.documentation.kind == types.MarkupKind.Markdown and "**Performance:**" in first.documentation.value
    assert first.text_edit.new_text == "model = " + call
    assert first.insert_text_format == types.InsertTextFormat.PlainText  # no placeholder in this call
    assert first.text_edit.range == types.Range(types.Position(1, 0), types.Position(1, 0))
    assert [e.new_text for e in first.additional_text_edits] == ["import torch\n"]
    accepted = apply(REQUEST_DOC, [first.text_edit, *first.additional_text_edits])
    assert accepted == f"import torch\n# classify actions in a video, under 10M parameters\nmodel = {call}\nprint('done')\n"

    # on the comment line itself: the call goes below it and the comment is kept whole
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc_id(uri), position=types.Position(0, 10)))
    edit = result.items[0].text_edit
    assert apply(REQUEST_DOC, [edit]).startswith(REQUEST_DOC.split("\n")[0] + "\nmodel = torch.hub.load(")

    # not at a request: nothing
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc_id(uri), position=types.Position(2, 3)))
    assert result is None


async def test_hub_bias_from_imports(client: LanguageClient) -> None:
    uri = "file:///work/tf.py"
    await open_doc(client, uri, "import tensorflow_hub as hub\n# image classification model\n")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc_id(uri), position=types.Position(1, 29)))
    assert result.items[0].detail.startswith("hub.")
    assert not result.items[0].additional_text_edits  # `hub` is already imported


async def test_inline_completion(client: LanguageClient) -> None:
    uri = "file:///work/inline.py"
    await open_doc(client, uri, REQUEST_DOC)
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=doc_id(uri), position=types.Position(1, 0),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    assert result is not None and len(result.items) == 5
    item = result.items[0]
    assert item.insert_text.startswith("model = torch.hub.load(") and item.range.start == types.Position(1, 0)
    if client.__dict__["spec"] == "visual-studio-code":  # can apply edits: the import comes with a command
        assert item.command.command == "gorilla.insertImport" and list(item.command.arguments) == [uri, "import torch"]
        applied: list[types.WorkspaceEdit] = []

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            applied.append(params.edit)
            return types.ApplyWorkspaceEditResult(applied=True)

        done = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=item.command.command, arguments=list(item.command.arguments)))
        assert done is True and len(applied) == 1
        edit = applied[0].document_changes[0]
        assert edit.text_document.version == 1 and edit.edits[0].new_text == "import torch\n"
        assert edit.edits[0].range.start == types.Position(0, 0)


async def test_diagnostics_hover_and_quick_fix(client: LanguageClient) -> None:
    uri = "file:///work/check.py"
    await open_doc(client, uri, CHECK_DOC)
    # neither id is in the database: both are verified on the (stand-in) hubs, then flagged
    diagnostics = await diagnostics_for(client, uri, until=flagged(2))
    bad = diagnostics[0]
    # UTF-16: the emoji before the call counts as two units; the range is the model id
    start = len("x = '") + 2 + len("'; bad = ")
    model_at = start + INVENTED.index("'resnet9000'")
    assert bad.range == types.Range(types.Position(3, model_at), types.Position(3, start + len(INVENTED) - 1))
    assert (bad.code, bad.source, bad.severity) == ("hallucinated-api", "gorilla", types.DiagnosticSeverity.Warning)
    assert "model='resnet50'" in bad.message and "hallucinated" in bad.message
    assert "pytorch/vision has no entrypoint `resnet9000`" in bad.message and bad.data["evidence"]["source"] == "TorchHub"
    assert diagnostics[1].range.start.line == 5 and "mobilenet_v2" in diagnostics[1].message
    assert "TF Hub" in diagnostics[1].message

    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(uri), position=types.Position(4, 12)))
    assert "### ResNet" in hover.contents.value and "Classification" in hover.contents.value
    assert "**Example:**" in hover.contents.value and "top-1" in hover.contents.value
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(uri), position=types.Position(3, start + 3)))
    assert "Hallucinated" in hover.contents.value and "model='resnet50'" in hover.contents.value
    assert "**TorchHub** says: pytorch/vision has no entrypoint" in hover.contents.value
    assert hover.range == types.Range(types.Position(3, start), types.Position(3, start + len(INVENTED)))
    assert await client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(uri), position=types.Position(2, 0))) is None

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=doc_id(uri), range=bad.range, context=types.CodeActionContext(diagnostics=[bad])))
    assert len(actions) == 3 and actions[0].is_preferred and actions[0].kind == types.CodeActionKind.QuickFix
    assert "resnet50" in actions[0].title and list(actions[0].diagnostics) == [bad]
    edit = actions[0].edit
    edits = edit.document_changes[0].edits if edit.document_changes else edit.changes[uri]
    assert [e.new_text for e in edits] == ["torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50', pretrained=True)"]
    assert edits[0].range == hover.range  # the whole call is replaced

    # the user accepts the fix: the diagnostic goes away
    client.diagnostics.pop(uri)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=edits[0].range, text=edits[0].new_text)]))
    diagnostics = await diagnostics_for(client, uri, until=lambda d: [x.range.start.line for x in d] == [5])
    assert [d.code for d in diagnostics] == ["hallucinated-api"]

    client.diagnostics.pop(uri)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id(uri)))
    assert await diagnostics_for(client, uri) == []
