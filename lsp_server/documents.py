"""Open documents that count lines as the LSP does, so incremental edits land where the client means them.

pygls' `TextDocument` splits with `str.splitlines`, which also ends a line at a form feed, `\\x0b`, `\\x1c`-`\\x1e`,
`\\x85`, U+2028 and U+2029: after one of those, every edit below it went to the wrong place and the server's text
parted from the editor's. Here the text and its line starts (`index.positions.Lines`) are kept together and an edit
re-scans only the lines it touched, so a keystroke in a 10 MB file costs a copy of the text, not a split of it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from index.positions import Encoding, Lines

log = logging.getLogger("gorilla_lsp.documents")


def encoding_of(kind: Any) -> Encoding:
    """The position encoding a client agreed to, in this project's spelling (UTF-16 unless it said otherwise)."""
    value = str(getattr(kind, "value", kind) or "utf-16").lower()
    return value if value in ("utf-8", "utf-32") else "utf-16"  # type: ignore[return-value]


class Document(TextDocument):
    """A pygls document whose lines are the LSP's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._text_lines: Lines | None = None

    @property
    def encoding(self) -> Encoding:
        return encoding_of(self.position_codec.encoding)

    @property
    def text_lines(self) -> Lines:
        """The current text with its line starts (an immutable snapshot: later edits make a new one)."""
        source = self.source
        if self._text_lines is None or self._text_lines.text is not source:
            self._text_lines = Lines(source)
        return self._text_lines

    def snapshot(self) -> Lines | str:
        """The current text for a worker: with its line starts when known, else the bare text (the worker scans it,
        not the event loop)."""
        source = self.source
        if self._text_lines is not None and self._text_lines.text is source:
            return self._text_lines
        return source

    def remember(self, lines: Lines) -> None:
        """Keep line starts a worker computed for the current text (a stale one is ignored by `text_lines`)."""
        if lines.text is self._source:
            self._text_lines = lines

    @property
    def lines(self) -> Sequence[str]:
        """pygls' own helpers expect lines with their line ends; these are the LSP's lines."""
        lines = self.text_lines
        text, starts = lines.text, lines.starts
        return tuple(text[int(starts[i]): int(starts[i + 1]) if i + 1 < len(starts) else len(text)]
                     for i in range(len(starts)))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        lines = self.text_lines
        start = lines.offset(change.range.start.line, change.range.start.character, self.encoding)
        end = lines.offset(change.range.end.line, change.range.end.character, self.encoding)
        if end < start:  # a reversed range: the LSP requires start <= end; take the span it names
            start, end = end, start
        self._text_lines = lines.edit(start, end, change.text)
        self._source = self._text_lines.text

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self._source = change.text
        self._text_lines = None


class DocumentWorkspace(Workspace):
    """A pygls workspace that holds `Document`s."""

    def _create_text_document(
        self, doc_uri: str, source: str | None = None, version: int | None = None, language_id: str | None = None,
    ) -> TextDocument:
        return Document(doc_uri, source=source, version=version, language_id=language_id, sync_kind=self._sync_kind,
                        position_codec=self._position_codec)

    @classmethod
    def replacing(cls, workspace: Workspace) -> DocumentWorkspace:
        """A workspace like pygls' freshly made one (same root, folders, sync kind and position encoding)."""
        return cls(workspace.root_uri, workspace._sync_kind, list(workspace.folders.values()),
                   workspace.position_encoding)
