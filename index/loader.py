"""Reading API files: JSON lines or JSON arrays, one bad record never stops the others.

Errors name the file, line, column and field, as a user fixing the file needs them. A JSON array is split into its
top-level elements before decoding, so a syntax error inside one element (as in the published
`KubernetesAPI.JSON`) loses that element only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from index.records import ApiRecord, RawRecord, normalise

API_FILE_SUFFIXES = (".jsonl", ".json")


class LoadError(msgspec.Struct, frozen=True):
    """A record (or file) that could not be loaded; line and column are 1-based as editors show them."""

    path: str
    line: int
    column: int
    field: str | None
    message: str
    severity: str = "error"  # "error": the record was skipped; "warning": it loaded after a repair

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}: {self.severity}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class LoadResult(msgspec.Struct):
    records: list[ApiRecord]
    errors: list[LoadError]
    files: list[str]


def iter_api_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand directories into their API files (sorted, recursive); files are taken as given, each file once
    (a file named both on its own and through its directory is one source, not two copies of every record)."""
    seen: set[Path] = set()
    for path in paths:
        found = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in API_FILE_SUFFIXES)
            if path.is_dir() else [path]
        )
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file


class _Lines:
    """Byte offset to 1-based line and column."""

    def __init__(self, data: bytes) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
        self.data = data

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[index]
        column = len(self.data[start:offset].decode("utf-8", "replace")) + 1
        return index + 1, column


_BYTE = re.compile(r"\(byte (\d+)\)")
_FIELD = re.compile(r"`\$\.([A-Za-z_][\w]*)")
_MISSING = re.compile(r"missing required field `(\w+)`")


def _decode_error(exc: msgspec.MsgspecError) -> tuple[str, int | None, str | None]:
    """(message, byte offset within the decoded text or None, field or None) from a msgspec error."""
    text = str(exc)
    offset = _BYTE.search(text)
    field = _FIELD.search(text) or _MISSING.search(text)
    message = _BYTE.sub("", text).strip()
    if message.startswith("JSON is malformed: "):
        message = "invalid JSON: " + message[len("JSON is malformed: ") :]
    return message, int(offset.group(1)) if offset else None, field.group(1) if field else None


def _split_array(data: bytes) -> Iterator[tuple[int, int] | tuple[int, str]]:
    """Yield (start, end) byte spans of the top-level elements of a JSON array, or (offset, problem).

    String-aware brace matching; it does not validate, the per-element decode does.
    """
    i = data.index(b"[") + 1
    n = len(data)
    depth = 0
    start = -1
    in_string = escape = False
    while i < n:
        c = data[i]
        if in_string:
            if escape:
                escape = False
            elif c == 0x5C:  # backslash
                escape = True
            elif c == 0x22 or c == 0x0A:
                # A raw newline cannot be inside a JSON string: the string was never closed. Resynchronise here;
                # the element's own decode reports the error.
                in_string = False
        elif c == 0x22:
            in_string = True
            if depth == 0:
                start = i
        elif c == 0x5B and depth == 0:
            # Records are objects; a '[' between them is a stray bracket (seen in published files): report it and
            # read on, so the records after it still load.
            yield (i, "unexpected '[' between records: ignored")
        elif c in (0x7B, 0x5B):  # { [
            if depth == 0:
                start = i
            depth += 1
        elif c in (0x7D, 0x5D):  # } ]
            if depth == 0:
                if c == 0x5D:
                    return
                yield (i, "unexpected '}' at the top level of the array")
            else:
                depth -= 1
                if depth == 0:
                    yield (start, i + 1)
                    start = -1
        elif depth == 0 and c not in b" \t\r\n,":
            # A bare scalar element: take it up to the next comma or bracket.
            end = i
            while end < n and data[end] not in b",]\n":
                end += 1
            yield (i, end)
            i = end
            continue
        i += 1
    if depth or in_string:
        yield (start if start >= 0 else n, "the array is not closed (unbalanced brackets or quotes)")


def _without_trailing_commas(chunk: bytes) -> bytes:
    """Drop commas that directly precede `}` or `]` outside strings (a common hand-editing slip)."""
    out = bytearray()
    in_string = escape = False
    pending: int | None = None
    for c in chunk:
        if in_string:
            if escape:
                escape = False
            elif c == 0x5C:
                escape = True
            elif c == 0x22:
                in_string = False
        elif c == 0x2C:  # ,
            pending = len(out)
        elif c in (0x7D, 0x5D) and pending is not None:
            del out[pending]
            pending = None
        elif c not in b" \t\r\n":
            pending = None
            in_string = c == 0x22
        out.append(c)
    return bytes(out)


class RecordDecoder:
    """Decode records from bytes into `ApiRecord`s, collecting `LoadError`s."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        self.lines = _Lines(data)
        self.records: list[ApiRecord] = []
        self.errors: list[LoadError] = []
        self._any = msgspec.json.Decoder()

    def error(self, offset: int, field: str | None, message: str, severity: str = "error") -> None:
        line, column = self.lines.position(offset)
        self.errors.append(LoadError(self.path, line, column, field, message, severity))

    def _field_offset(self, start: int, end: int, field: str | None) -> int:
        if field:
            found = self.data.find(b'"' + field.encode() + b'"', start, end)
            if found >= 0:
                return found
        return start

    def decode(self, start: int, end: int) -> None:
        chunk = self.data[start:end]
        try:
            obj: Any = self._any.decode(chunk)
        except msgspec.DecodeError as exc:
            message, offset, field = _decode_error(exc)
            repaired = _without_trailing_commas(chunk) if "trailing comma" in message else None
            try:
                obj = self._any.decode(repaired) if repaired is not None else None
            except msgspec.DecodeError:
                obj = None
            if obj is None:
                self.error(start + (offset or 0), field, message + ": the record was skipped")
                return
            self.error(start + (offset or 0), field, message + ": loaded without it", severity="warning")
        if not isinstance(obj, dict):
            self.error(start, None, f"expected a JSON object (an API record), found {type(obj).__name__}")
            return
        try:
            raw = msgspec.convert(obj, RawRecord)
        except msgspec.ValidationError as exc:
            message, _, field = _decode_error(exc)
            if field == "api_call" and "missing" in message:
                message = "the record has no `api_call` (the one line of Python that calls the API)"
            self.error(self._field_offset(start, end, field), field, message)
            return
        if not raw.api_call.strip():
            self.error(self._field_offset(start, end, "api_call"), "api_call", "`api_call` is empty")
            return
        line, _ = self.lines.position(start)
        self.records.append(normalise(raw, self.path, line, obj))

    def decode_all(self) -> None:
        stripped = self.data.lstrip()
        if not stripped:
            return
        if stripped[:1] == b"[":
            for span in _split_array(self.data):
                if isinstance(span[1], str):
                    self.error(span[0], None, span[1])
                else:
                    self.decode(span[0], span[1])
            return
        # JSON lines (the APIBench `.json` eval files are JSON lines too).
        for start, end in zip(self.lines.starts, self.lines.starts[1:] + [len(self.data)]):
            if self.data[start:end].strip():
                self.decode(start, end)


def load_file(path: Path) -> tuple[list[ApiRecord], list[LoadError]]:
    """Load one API file; unreadable files and bad records become errors, never exceptions."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [LoadError(str(path), 1, 1, None, f"cannot read the file: {exc.strerror or exc}")]
    decoder = RecordDecoder(str(path), data)
    decoder.decode_all()
    return decoder.records, decoder.errors


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Load every API file under `paths` (files or directories), in order."""
    records: list[ApiRecord] = []
    errors: list[LoadError] = []
    files: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            errors.append(LoadError(str(path), 1, 1, None, "no such file or directory"))
            continue
        found = list(iter_api_files([path]))
        if path.is_dir() and not found:
            errors.append(LoadError(str(path), 1, 1, None, "the directory holds no .json or .jsonl API files"))
        for file in found:
            if file.resolve() in seen:  # named twice (on its own and through its folder): one source
                continue
            seen.add(file.resolve())
            files.append(str(file))
            file_records, file_errors = load_file(file)
            records.extend(file_records)
            errors.extend(file_errors)
    return LoadResult(records=records, errors=errors, files=files)
