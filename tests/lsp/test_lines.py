"""The server's view of the text stays the client's: odd line ends, line-break-like characters, NUL bytes, and a
storm of random incremental edits whose final diagnostics must equal `gorilla-lsp check` on the final text."""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.conftest import API_DB, REPO, diagnostics_for, flagged, open_doc, server_env, wait_for

INVENTED = "torch.hub.load('pytorch/vision', 'resnet9000')"
MODEL_ID = "'resnet9000'"  # what a diagnostic underlines
MODEL_AT = INVENTED.index(MODEL_ID)
NOT_LINE_ENDS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
LINE_END = re.compile(r"\r\n|\r|\n")


# --- the client's side, written independently of the server's code ------------------------------------------------

def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end without the line end) of each line, as the LSP specification defines lines."""
    spans, start = [], 0
    for match in LINE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def offset_of(text: str, line: int, character: int) -> int:
    spans = line_spans(text)
    if line >= len(spans):
        return len(text)
    start, end = spans[line]
    units = 0
    for index in range(start, end):
        if units >= character:
            return index
        units += utf16_len(text[index])
    return end


def position_of(text: str, offset: int) -> tuple[int, int]:
    for line, (start, end) in enumerate(line_spans(text)):
        if offset <= end or line == len(line_spans(text)) - 1:
            return line, utf16_len(text[start:min(offset, end)])
    raise AssertionError(offset)


def cli_check(tmp: Path, text: str) -> list[tuple[tuple[int, int, int, int], str]]:
    """`gorilla-lsp check` on the text, its positions (code points) turned into UTF-16 ones."""
    path = tmp / "final.py"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out = subprocess.run([sys.executable, "-m", "lsp_server", "check", str(path), "--api-db", str(API_DB),
                          "--format", "json"], capture_output=True, text=True, env=server_env(), cwd=REPO, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    found = []
    spans = line_spans(text)
    for d in json.loads(out.stdout):
        start = spans[d["line"]][0] + d["character"]
        end = spans[d["end_line"]][0] + d["end_character"]
        found.append(((*position_of(text, start), *position_of(text, end)), d["message"]))
    return sorted(found)


def served(diagnostics: list[types.Diagnostic]) -> list[tuple[tuple[int, int, int, int], str]]:
    return sorted(((d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character), d.message)
                  for d in diagnostics)


def change(client: LanguageClient, uri: str, version: int,
           edits: list[tuple[tuple[int, int, int, int], str]]) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(a, b), types.Position(c, d)), text=new) for (a, b, c, d), new in edits]))


async def diagnostics_of_version(client: LanguageClient, uri: str, version: int) -> list[types.Diagnostic]:
    for _ in range(1000):
        if client.diagnostics.get(uri) is not None and client.diagnostic_versions.get(uri) == version:
            return list(client.diagnostics[uri])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics for version {version}")


def track_versions(client: LanguageClient) -> None:
    """Remember the version of each publishDiagnostics (pytest-lsp keeps only the diagnostics)."""
    client.__dict__["diagnostic_versions"] = versions = {}

    def publish(params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        versions[params.uri] = params.version

    client.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish  # replaces pytest-lsp's


# --- tests ---------------------------------------------------------------------------------------------------------

async def test_line_break_like_characters_keep_edits_in_place(vscode: LanguageClient) -> None:
    for number, char in enumerate(NOT_LINE_ENDS):
        uri = f"file:///work/breaks{number}.py"
        good = "torch.hub.load('pytorch/vision', 'resnet50')"
        await open_doc(vscode, uri, f"import torch\n# page{char}break\nm = {good}\n")
        assert await diagnostics_for(vscode, uri) == []
        vscode.diagnostics.pop(uri)
        column = len("m = torch.hub.load('pytorch/vision', '")
        change(vscode, uri, 2, [((2, column, 2, column + len("resnet50")), "resnet9000")])
        diagnostics = await diagnostics_for(vscode, uri, until=flagged(1))  # once the (stand-in) hub has answered
        assert [(d.range.start.line, d.range.start.character) for d in diagnostics] == [(2, 4 + MODEL_AT)], repr(char)
        assert diagnostics[0].range.end == types.Position(2, 4 + MODEL_AT + len(MODEL_ID))


async def test_odd_line_ends_and_nul_bytes_hide_nothing(vscode: LanguageClient, tmp_path: Path) -> None:
    cases = {
        "lone-cr": f"import torch\r# a note\rm = {INVENTED}\r",
        "mixed": f"import torch\r\n# a\rx = 1\nm = {INVENTED}\r\n\rn = {INVENTED}\n",
        "nul": f"import torch\x00\nm = {INVENTED}\n",
        "nul-in-comment": f"import torch  # \x00\nm = {INVENTED}\n",
        "form-feed": f"import torch\n\x0c\n# \u2028 {INVENTED}\nm = {INVENTED}\n",
    }
    for name, text in cases.items():
        uri = f"file:///work/{name}.py"
        await open_doc(vscode, uri, text)
        expected = [(*position_of(text, m.start() + MODEL_AT), *position_of(text, m.start() + MODEL_AT + len(MODEL_ID)))
                    for m in re.finditer("(?<== )" + re.escape(INVENTED), text)]  # not the one in a comment
        got = served(await diagnostics_for(vscode, uri, until=flagged(len(expected))))
        assert [g[0] for g in got] == expected, name
        assert got == cli_check(tmp_path, text), name


async def test_a_storm_of_random_edits_ends_where_check_does(vscode: LanguageClient, tmp_path: Path) -> None:
    track_versions(vscode)
    rng = random.Random(12)
    pieces = ["", "x", " ", "\n", "\r\n", "\r", *NOT_LINE_ENDS, "\x00", "😋", "é", "'", "(", ")", "#",
              f"m = {INVENTED}\n", "torch.hub.load('pytorch/vision', 'resnet50')",
              "hub.KerasLayer('https://tfhub.dev/google/imagenet/mobilenet_v9_100_224/feature_vector/4')",
              "AutoModel.from_pretrained('acme/bert-invented')", "import tensorflow_hub as hub\r\n", "resnet"]
    text = ("import torch\r\nfrom transformers import AutoModel\n# page\x0cbreak \u2028 😋\r"
            + "".join(f"m{i} = torch.hub.load('pytorch/vision', 'resnet{9000 + i}')\n" for i in range(30)))
    uri = "file:///work/storm.py"
    await open_doc(vscode, uri, text)
    version = 1
    for _ in range(400):
        version += 1
        edits = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            spans = line_spans(text)
            line = rng.randrange(len(spans) + (1 if rng.random() < 0.02 else 0))
            if line < len(spans):
                start, end = spans[line]
                offset = rng.randint(start, end)
                character = utf16_len(text[start:offset]) + (50 if rng.random() < 0.02 else 0)
            else:
                character = 0
            first = (line, character)
            begin = offset_of(text, *first)
            stop = min(len(text), begin + rng.choice([0, 0, 1, 2, 5, 40]))
            last = position_of(text, stop)
            new = rng.choice(pieces)
            if rng.random() < 0.05:  # now and then a range given end first, as a careless client might
                first, last = last, first
            edits.append(((*first, *last), new))
            low, high = sorted((offset_of(text, *first), offset_of(text, *last)))
            text = text[:low] + new + text[high:]
        change(vscode, uri, version, edits)
        if rng.random() < 0.1:
            await asyncio.sleep(0.01)
    await diagnostics_of_version(vscode, uri, version)
    expected = cli_check(tmp_path, text)
    assert len(expected) >= 5  # the storm left invented calls to find
    # ids new to the final text are republished once their (stand-in) hub answers
    try:
        await wait_for(lambda: served(vscode.diagnostics[uri]) == expected, timeout=20)
    finally:
        assert served(vscode.diagnostics[uri]) == expected

    # reopening the same text gives the same diagnostics
    reopened = "file:///work/storm-reopened.py"
    await open_doc(vscode, reopened, text)
    assert served(await diagnostics_for(vscode, reopened, until=lambda d: served(d) == expected)) == expected


async def test_a_lone_surrogate_inside_an_invented_call(vscode: LanguageClient) -> None:
    uri = "file:///work/surrogate-call.py"
    call = "torch.hub.load('pytorch/vision', 'res\ud800net')"
    await open_doc(vscode, uri, f"import torch\nm = {call}\n")
    (diagnostic,) = await diagnostics_for(vscode, uri, until=flagged(1))
    assert "'res" in diagnostic.message  # the lone surrogate counts as one UTF-16 unit, as the editor counts it
    model_at = 4 + call.index("'res")
    assert diagnostic.range == types.Range(types.Position(1, model_at), types.Position(1, model_at + len("'res\ud800net'")))


def test_a_message_holding_a_lone_surrogate_is_still_sent() -> None:
    from lsp_server.server import create_server

    sent: list[bytes] = []
    server = create_server()
    server.protocol.set_writer(type("Writer", (), {"write": lambda self, data: sent.append(data)})())
    server.protocol.send_json({"jsonrpc": "2.0", "method": "x", "params": {"text": "a\ud800b"}})
    header, _, body = sent[0].partition(b"\r\n\r\n")
    assert json.loads(body)["params"]["text"] == "a\ud800b" and header == b"Content-Length: %d" % len(body)
