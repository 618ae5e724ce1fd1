"""Comments become requests: the `#` block at or just above the cursor, and the hub the file's imports point to.

Only a window of lines around the cursor (and the file's head, for imports) is parsed, so a request in a 5 MB file
costs what one in a 50-line file does; tree-sitter tells a real comment from a `#` inside a string.
"""

from __future__ import annotations

import re

import msgspec
import tree_sitter

from index.calls import PythonCalls

WINDOW_LINES = 120  # lines above the cursor parsed to find the block (a request is never longer)
LOOKAHEAD_LINES = 30
HEAD_LINES = 300  # lines at the top of the file where imports are looked for
MAX_BLOCK_LINES = 40

_NOT_REQUESTS = re.compile(r"^(?:!|\s*-\*-|\s*(?:type|noqa|pylint|pyright|mypy|fmt|isort)\s*:|\s*(?:TODO|FIXME)\b)")
_ASSIGN_PREFIX = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*$")

# Module prefixes -> hub, most specific first: a file importing transformers and torch works with Hugging Face.
_HUB_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tensorflowhub", ("tensorflow_hub", "tensorflow", "keras")),
    ("huggingface", ("transformers", "diffusers", "sentence_transformers", "huggingface_hub", "datasets", "timm")),
    ("torchhub", ("torch", "torchvision", "torchaudio")),
)


class CommentRequest(msgspec.Struct, frozen=True):
    """A request found in the comments: its text (markers stripped) and where the block sits (0-based rows)."""

    text: str
    first_row: int
    last_row: int
    indent: str
    cursor_on_comment: bool  # the cursor is on the block's last line (else on the line below it)


class CommentFinder:
    """Finds comment blocks with its own parser (one per server, used from one worker thread)."""

    def __init__(self, calls: PythonCalls | None = None) -> None:
        self.calls = calls or PythonCalls()
        self._comments = tree_sitter.Query(self.calls.language, "(comment) @c")

    def request_at(self, lines: list[str], row: int, column: int) -> CommentRequest | None:
        """The comment block the cursor at (row, code-point column) asks about, if any.

        The cursor is on a full-line comment (the block ends there), or on a blank line / `name = ` line right
        below one.
        """
        if not 0 <= row < len(lines):
            return None
        line = lines[row]
        before = line[: max(0, column)]
        start = max(0, row - WINDOW_LINES)
        # A few lines past the cursor too, so a string that opens above and closes below is seen as one.
        comment_rows = self._comment_rows(lines, start, min(len(lines) - 1, row + LOOKAHEAD_LINES))
        if row in comment_rows:
            last, on_comment = row, True
        elif (not before.strip() or _ASSIGN_PREFIX.match(before)) and (row - 1) in comment_rows:
            if line[len(before):].strip() and not before.strip():
                return None  # code after the cursor on this line: not a place to insert a call
            last, on_comment = row - 1, False
        else:
            return None
        first = last
        while first - 1 in comment_rows and last - first + 1 < MAX_BLOCK_LINES:
            first -= 1
        texts = [_strip_marker(lines[r]) for r in range(first, last + 1)]
        texts = [t for t in texts if t and not _NOT_REQUESTS.match(t)]
        text = " ".join(" ".join(texts).split())
        if not text:
            return None
        indent = lines[last][: len(lines[last]) - len(lines[last].lstrip())]
        return CommentRequest(text, first, last, indent, on_comment)

    def _comment_rows(self, lines: list[str], start: int, end: int) -> set[int]:
        """Rows in [start, end] that hold a comment and nothing else."""
        source = "\n".join(lines[start : end + 1]).encode("utf-8", "surrogatepass")
        tree = self.calls.parse(source)  # without the NUL bytes that derail tree-sitter
        cursor = tree_sitter.QueryCursor(self._comments)
        rows: set[int] = set()
        for node in cursor.captures(tree.root_node).get("c", []):
            row = node.start_point.row
            text = lines[start + row] if start + row < len(lines) else ""
            prefix = text.encode("utf-8", "surrogatepass")[: node.start_point.column]
            if not prefix.strip():
                rows.add(start + row)
        return rows

    def hub_of(self, lines: list[str]) -> str | None:
        """Which hub the file works with, from its imports (None when it says nothing)."""
        head = "\n".join(lines[:HEAD_LINES])
        modules = list(self.calls.imports(head).values())
        return hub_of_modules(modules)

    def imports(self, lines: list[str]) -> dict[str, str]:
        return self.calls.imports("\n".join(lines[:HEAD_LINES]))


def hub_of_modules(modules: list[str]) -> str | None:
    roots = {m.split(".")[0] for m in modules}
    for hub, prefixes in _HUB_MODULES:
        if roots.intersection(prefixes):
            return hub
    return None


def _strip_marker(line: str) -> str:
    text = line.strip()
    while text.startswith("#"):
        text = text[1:]
    return text.strip()
