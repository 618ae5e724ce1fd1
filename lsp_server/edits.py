"""Text edits: the line a suggestion inserts, the import it needs, and LSP position arithmetic.

Everything here is pure (text in, edits out), so it is unit-tested without a server. Columns inside Python are code
points; `Text` converts to and from the client's position encoding (UTF-16 by default) at the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import msgspec

from index.positions import Encoding, Lines, column_from_units, units
from index.records import ApiRecord
from index.repair import import_for_name


class Text:
    """A document snapshot: its lines as the LSP counts them (`index.positions.Lines`) and the client's units."""

    def __init__(self, source: str | Lines, encoding: Encoding = "utf-16") -> None:
        self.lines = source if isinstance(source, Lines) else Lines(source)
        self.source = self.lines.text
        self.encoding = encoding

    def units(self, text: str) -> int:
        """Length of `text` in the client's units."""
        return units(text, self.encoding)

    def to_client(self, row: int, column: int) -> tuple[int, int]:
        """(row, code-point column) -> (line, client column)."""
        if row >= len(self.lines):
            return len(self.lines) - 1, self.units(self.lines[-1])
        return row, self.units(self.lines[row][:column])

    def from_client(self, line: int, character: int) -> tuple[int, int] | None:
        """(line, client column) -> (row, code-point column), clamped to the line; None past the end of the file."""
        if line < 0 or line >= len(self.lines) or character < 0:
            return None
        return line, column_from_units(self.lines[line], character, self.encoding)


class Insertion(msgspec.Struct, frozen=True):
    """Replace [start, end) on one line (client units) with `text`."""

    line: int
    start: int
    end: int
    text: str


# --- variable names and imports ----------------------------------------------------------------------------------

_CALLEE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*\(")


def callee_of(api_call: str) -> str:
    match = _CALLEE.match(api_call)
    return match.group(1) if match else ""


def variable_for(api_call: str) -> str:
    """A readable name for what the call returns (`tokenizer = AutoTokenizer...`, `classifier = pipeline(...)`)."""
    callee = callee_of(api_call)
    head = callee.split(".")[0]
    if callee == "pipeline":
        task = re.search(r"pipeline\(\s*(?:task\s*=\s*)?['\"]([\w-]+)", api_call)
        name = (task.group(1) if task else "").replace("-", "_")
        return {"text_classification": "classifier", "sentiment_analysis": "classifier",
                "zero_shot_classification": "classifier", "image_classification": "classifier",
                "translation": "translator", "summarization": "summarizer", "fill_mask": "unmasker",
                "text_generation": "generator", "question_answering": "qa"}.get(name, "pipe")
    if callee in ("hub.KerasLayer",):
        return "layer"
    lowered = head.lower()
    for part, name in (("tokenizer", "tokenizer"), ("processor", "processor"), ("featureextractor", "feature_extractor"),
                       ("pipeline", "pipe")):
        if part in lowered:
            return name
    return "model"


def import_for(api_call: str, record: ApiRecord | None = None) -> tuple[str, str] | None:
    """(local name, import line) the call needs, e.g. ('hub', 'import tensorflow_hub as hub'); None if unknown."""
    callee = callee_of(api_call)
    if not callee:
        return None
    name = callee.split(".")[0]
    line = import_for_name(name, record.example_code if record is not None else "")
    return (name, line) if line is not None else None


def bound_name(import_line: str) -> str:
    """The name an import line binds: `import tensorflow_hub as hub` -> hub, `from x import Y` -> Y."""
    words = import_line.replace(",", " ").split()
    if "as" in words:
        return words[words.index("as") + 1]
    if words[:1] == ["from"] and "import" in words:
        return words[words.index("import") + 1]
    return words[1].split(".")[0] if len(words) > 1 else ""


def import_insertion(lines: Sequence[str], import_line: str, units: Callable[[str], int] = len) -> Insertion:
    """Where a new import goes: after the file's last top-level import, else after a shebang/coding/docstring head."""
    row = 0
    while row < min(2, len(lines)) and lines[row].startswith("#") and (
        lines[row].startswith("#!") or "coding" in lines[row]
    ):
        row += 1
    if row < len(lines) and lines[row].lstrip().startswith(('"""', "'''")):
        quote = lines[row].lstrip()[:3]
        if lines[row].count(quote) >= 2:
            row += 1
        else:
            end = row + 1
            while end < len(lines) and quote not in lines[end]:
                end += 1
            row = min(end + 1, len(lines))
    head_end = row
    last_end: int | None = None
    row = head_end
    while row < min(len(lines), 400):
        line = lines[row]
        if line.startswith(("import ", "from ")):
            end = row
            if "(" in line and ")" not in line:
                while end + 1 < len(lines) and ")" not in lines[end] and end - row < 100:
                    end += 1
            while lines[end].rstrip().endswith("\\") and end + 1 < len(lines):
                end += 1
            last_end = end
            row = end
        row += 1
    target = last_end + 1 if last_end is not None else head_end
    if target >= len(lines):  # the file ends without a newline after its imports
        last = len(lines) - 1
        return Insertion(line=last, start=units(lines[last]), end=units(lines[last]), text="\n" + import_line)
    return Insertion(line=target, start=0, end=0, text=import_line + "\n")


def has_name(imports: dict[str, str], name: str) -> bool:
    return name in imports


def call_insertion(lines: Sequence[str], row: int, column: int, request_indent: str, cursor_on_comment: bool,
                   api_call: str, units: Callable[[str], int]) -> Insertion:
    """The edit that writes the call for a request, never changing text the user typed.

    On the comment line: the rest of the line is kept and the call goes on a new line below, at the comment's
    indent. On a blank line: `name = call`. After `name = `: the call alone.
    """
    line = lines[row]
    before = line[:column]
    start = units(before)
    if cursor_on_comment:
        rest = line[column:]
        text = f"{rest}\n{request_indent}{variable_for(api_call)} = {api_call}"
        return Insertion(line=row, start=start, end=units(line), text=text)
    if before.strip():  # `name = `
        return Insertion(line=row, start=start, end=start, text=("" if before.endswith(" ") else " ") + api_call)
    indent = request_indent if not before else ""
    return Insertion(line=row, start=start, end=start, text=f"{indent}{variable_for(api_call)} = {api_call}")
