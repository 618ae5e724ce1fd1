"""Open documents (lsp_server.documents): incremental changes land where the client means, whatever the lines hold."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.workspace import PositionCodec

from lsp_server.documents import Document, DocumentWorkspace, encoding_of


def edit(doc: Document, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    doc.apply_change(types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(*start), types.Position(*end)), text=text))


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_an_edit_below_a_line_break_like_character(char: str) -> None:
    doc = Document("file:///a.py", f"import torch\n# page{char}break\nm = f('resnet50')\n")
    edit(doc, (2, 7), (2, 15), "resnet9000")
    assert doc.source == f"import torch\n# page{char}break\nm = f('resnet9000')\n"


def test_line_ends_of_every_kind_and_positions_past_the_end() -> None:
    doc = Document("file:///a.py", "a\r\nb\rc\nd")
    edit(doc, (1, 1), (2, 0), "X")  # across a lone CR
    assert doc.source == "a\r\nbXc\nd"
    edit(doc, (0, 99), (0, 99), "!")  # past the line's end: its end, before the CR LF
    assert doc.source == "a!\r\nbXc\nd"
    edit(doc, (9, 0), (9, 0), "\nend")  # past the last line: the end of the text
    assert doc.source == "a!\r\nbXc\nd\nend"
    edit(doc, (2, 1), (1, 1), "")  # a range given end first
    assert doc.source == "a!\r\nb\nend"
    assert list(doc.text_lines) == ["a!", "b", "end"] and doc.lines == ("a!\r\n", "b\n", "end")


def test_utf16_and_utf8_columns() -> None:
    doc = Document("file:///a.py", "x = '😋é' # tail\n")
    edit(doc, (0, 8), (0, 8), "!")  # after 😋 (2 units) and é (1 unit)
    assert doc.source == "x = '😋é!' # tail\n"
    utf8 = Document("file:///b.py", "x = '😋é'\n", position_codec=PositionCodec(types.PositionEncodingKind.Utf8))
    assert utf8.encoding == "utf-8"
    edit(utf8, (0, 10), (0, 10), "!")  # 4 bytes for 😋, 2 for é
    assert utf8.source == "x = '😋é!'\n"
    assert encoding_of(types.PositionEncodingKind.Utf32) == "utf-32" and encoding_of(None) == "utf-16"


def test_a_full_change_and_the_workspace() -> None:
    workspace = DocumentWorkspace(None)
    workspace.put_text_document(types.TextDocumentItem(uri="file:///c.py", language_id="python", version=1,
                                                       text="one\n"))
    doc = workspace.get_text_document("file:///c.py")
    assert isinstance(doc, Document)
    doc.apply_change(types.TextDocumentContentChangeWholeDocument(text="two\rthree"))
    assert list(doc.text_lines) == ["two", "three"]
    assert isinstance(DocumentWorkspace.replacing(workspace), DocumentWorkspace)
