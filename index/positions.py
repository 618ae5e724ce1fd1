"""Lines and positions as the LSP counts them, and tree-sitter's byte offsets turned into them.

The LSP ends a line at `\\n`, `\\r\\n` or `\\r` and nowhere else. `str.splitlines` also splits at `\\x0b`, `\\x0c`,
`\\x1c`-`\\x1e`, `\\x85`, U+2028 and U+2029, so a form feed in a comment would shift every later position by a line;
tree-sitter starts a row at `\\n` only, so a file with lone `\\r` line ends is one row to it. Every line split in the
server and the CLI goes through `Lines`, and every tree-sitter position through `ByteMapper` (byte offsets, never
rows), so both agree with the editor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, overload

if TYPE_CHECKING:
    import numpy as np

Encoding = Literal["utf-8", "utf-16", "utf-32"]
LINE_END = re.compile(r"\r\n?|\n")
_SCAN = 1 << 20  # code points per slice when scanning a text for line ends (bounds the scratch memory)


def line_starts(text: str) -> np.ndarray:
    """Offsets (code points) where each line starts; the first is 0, a text ending in a line end has an empty last."""
    import numpy as np  # here, not at import: the server answers `initialize` before numpy loads

    ends: list[np.ndarray] = []
    returns: list[np.ndarray] = []
    ascii_text = text.isascii()
    for offset in range(0, len(text), _SCAN):
        piece = text[offset: offset + _SCAN]
        if ascii_text:
            codes = np.frombuffer(piece.encode("ascii"), dtype=np.uint8)
        else:
            codes = np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ends.append(np.flatnonzero(codes == 10) + offset)
        if "\r" in piece:
            returns.append(np.flatnonzero(codes == 13) + offset)
    newlines = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    starts = newlines + 1
    if returns:
        cr = np.concatenate(returns)
        lone = cr[~np.isin(cr + 1, newlines)]  # `\r\n` is one line end, counted at its `\n`
        starts = np.sort(np.concatenate((starts, lone + 1)))
    return np.concatenate((np.zeros(1, dtype=np.int64), starts.astype(np.int64)))


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their line ends (`"a\\n"` is `["a", ""]`, as LSP positions count them)."""
    return LINE_END.split(text)


def _widths(text: str, encoding: Encoding) -> np.ndarray:
    """Client units of each code point (lone surrogates count as the editor sent them: one UTF-16 unit)."""
    import numpy as np

    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if encoding == "utf-16":
        return 1 + (codes > 0xFFFF).astype(np.int64)
    return 1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000).astype(np.int64)


def units(text: str, encoding: Encoding) -> int:
    """Length of `text` in the client's position units."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    return int(_widths(text, encoding).sum())


def column_from_units(line: str, character: int, encoding: Encoding) -> int:
    """A client column on `line` as a code-point column: clamped to the line, rounded up inside a character."""
    if character <= 0:
        return 0
    if encoding == "utf-32" or line.isascii():
        return min(character, len(line))
    import numpy as np

    reached = np.cumsum(_widths(line, encoding))  # units after each code point
    return min(int(np.searchsorted(reached, character, side="left")) + 1, len(line))


class Lines(Sequence[str]):
    """An immutable text and where its lines start; lines are sliced on demand, so a 10 MB text costs one array."""

    __slots__ = ("text", "starts")

    def __init__(self, text: str, starts: np.ndarray | None = None) -> None:
        self.text = text
        self.starts = starts if starts is not None else line_starts(text)

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, row: int) -> str: ...

    @overload
    def __getitem__(self, row: slice) -> list[str]: ...

    def __getitem__(self, row: int | slice) -> str | list[str]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self.text[int(self.starts[row]): self.content_end(row)]

    def __iter__(self) -> Iterator[str]:
        for row in range(len(self)):
            yield self[row]

    def content_end(self, row: int) -> int:
        """Offset of the end of line `row`, before its line end."""
        if row + 1 >= len(self.starts):
            return len(self.text)
        end = int(self.starts[row + 1]) - 1
        if end > 0 and self.text[end] == "\n" and self.text[end - 1] == "\r":
            end -= 1
        return end

    def row_of(self, offset: int) -> int:
        import numpy as np

        return int(np.searchsorted(self.starts, offset, side="right")) - 1

    def offset(self, line: int, character: int, encoding: Encoding) -> int:
        """A client position as an offset into the text; past a line's end is its end, past the last line the text's
        end (what the LSP asks of positions that overshoot)."""
        if line >= len(self):
            return len(self.text)
        line = max(line, 0)
        start = int(self.starts[line])
        return start + column_from_units(self.text[start: self.content_end(line)], character, encoding)

    def position(self, offset: int, encoding: Encoding) -> tuple[int, int]:
        """An offset into the text as a client (line, character)."""
        row = self.row_of(offset)
        start = int(self.starts[row])
        return row, units(self.text[start: min(offset, self.content_end(row))], encoding)

    def edit(self, start: int, end: int, new: str) -> Lines:
        """The text with [start, end) replaced by `new`; only the line starts near the edit are scanned again."""
        import numpy as np

        text = self.text[:start] + new + self.text[end:]
        # A line start p depends on the characters at p - 1 and p: those in [start, start + len(new)] are new.
        low = int(np.searchsorted(self.starts, start, side="left"))
        high = int(np.searchsorted(self.starts, end, side="right"))
        last = start + len(new)
        base = max(0, start - 1)
        middle = [p for p in (m.end() for m in LINE_END.finditer(text, base, min(len(text), last + 1)))
                  if start <= p <= last]
        head = self.starts[:low] if low else np.zeros(1, dtype=np.int64)
        tail = self.starts[high:] + (len(new) - (end - start))
        return Lines(text, np.concatenate((head, np.asarray(middle, dtype=np.int64), tail)))


class ByteMapper:
    """UTF-8 byte offsets (tree-sitter's) to client positions, for offsets asked in increasing order.

    Walking forward decodes each stretch of the text once, so mapping every finding of a 50 MB file costs one pass.
    """

    def __init__(self, lines: Lines, data: bytes, encoding: Encoding, errors: str = "surrogatepass") -> None:
        self.lines = lines
        self.data = data
        self.encoding = encoding
        self.errors = errors  # how `lines.text` was decoded from `data`
        self._ascii = len(data) == len(lines.text)
        self._byte = 0
        self._char = 0

    def char_offset(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        if byte_offset < self._byte:
            self._byte = self._char = 0
        self._char += len(self.data[self._byte: byte_offset].decode("utf-8", self.errors))
        self._byte = byte_offset
        return self._char

    def positions(self, byte_offsets: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Client (line, character) of each offset."""
        return {b: self.lines.position(self.char_offset(b), self.encoding) for b in sorted(set(byte_offsets))}
