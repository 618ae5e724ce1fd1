"""The base protocol, read defensively: framing, resynchronisation and JSON-RPC validity of each message.

pygls 2.1's reader matches `Content-Length: N\\r\\n` exactly: a header in lower case (HTTP-style headers are
case-insensitive), `Content-Length: abc` or a wrong length left it waiting forever without a word, a huge length made
it allocate and die, and a message that is not a valid JSON-RPC request got no answer at all, so the client waited
forever too. Here `FrameDecoder` turns bytes into message bodies without doing I/O (the stdio thread and the TCP
connection feed it), resynchronises on the next header where it can, and says why when it cannot; `parse_message`
turns a body into a message or into the JSON-RPC error it deserves.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

MAX_BODY = 512 * 1024 * 1024  # a bigger Content-Length is a broken client, not a document (allocating it would fail)
MAX_HEADER_LINE = 8192

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
_LENGTH_HEADER = re.compile(rb"content-length[ \t]*:", re.I)


class Body(msgspec.Struct, frozen=True):
    """One message body, as framed by its Content-Length."""

    data: bytes


class Skipped(msgspec.Struct, frozen=True):
    """Bytes dropped to find the next header (logged as a warning; the stream goes on)."""

    reason: str


class Broken(msgspec.Struct, frozen=True):
    """The stream cannot be followed any more (the server logs the reason and exits)."""

    reason: str


Event = Body | Skipped | Broken


class _Remainder(msgspec.Struct, frozen=True):
    """Bytes after a message cut out of a stalled body: fed again as the start of the next header."""

    data: bytes


def _preview(data: bytes, limit: int = 60) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(data) > limit else "")


_DECODER = json.JSONDecoder()


def _first_value_end(body: bytes) -> int | None:
    """Where the first JSON value of `body` ends, when more than white space follows it."""
    try:
        text = body.decode("utf-8")
        _, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    except ValueError:
        return None
    rest = text[end:]
    return len(body) - len(rest.encode("utf-8")) if rest.strip() else None


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


class FrameDecoder:
    """Bytes in, events out: `feed` what arrived, `stalled` when nothing more comes while a body is incomplete."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self.buffer = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.length: int | None = None  # set while a body is being read

    @property
    def reading_body(self) -> bool:
        return self.length is not None

    def feed(self, data: bytes) -> list[Event]:
        self.buffer += data
        events: list[Event] = []
        while True:
            if self.length is not None:
                if len(self.buffer) < self.length:
                    return events
                body = bytes(self.buffer[: self.length])
                del self.buffer[: self.length]
                self.length = None
                events.extend(self._body(body, complete=True))
            elif not self._header_line(events):
                return events
            if events and isinstance(events[-1], Broken):
                return events

    def stalled(self) -> list[Event]:
        """Nothing arrived for a while in the middle of a body: if what came is a whole JSON message (the
        Content-Length was too big and the client now waits for the answer), take it and resynchronise."""
        if self.length is None or not self.buffer:
            return []
        partial = bytes(self.buffer)
        events = self._body(partial, complete=False)
        if events:
            self.buffer.clear()
            self.length = None
            remainder = b"".join(e.data for e in events if isinstance(e, _Remainder))
            events = [e for e in events if not isinstance(e, _Remainder)]
            if remainder:
                events.extend(self.feed(remainder))
        return events

    def _body(self, body: bytes, complete: bool) -> list[Event]:
        """A body; when its Content-Length was too big it swallowed the start of the next message: split it there.

        A JSON-RPC message is an object, so a body that does not end with `}` has something after its message.
        """
        if not body.rstrip().endswith(b"}"):
            cut = _first_value_end(body)
            if cut is not None:
                note = Skipped(f"a message was shorter than its Content-Length said ({cut} bytes, not "
                               f"{len(body) if complete else 'more'}); reading on from what follows it")
                if complete:
                    self.buffer[:0] = body[cut:]
                    return [Body(body[:cut]), note]
                return [Body(body[:cut]), note, _Remainder(body[cut:])]
        if complete:
            return [Body(body)]
        if body.strip() and _is_json(body):
            return [Body(body), Skipped(f"a message was shorter than its Content-Length said ({len(body)} bytes)")]
        return []

    def _header_line(self, events: list[Event]) -> bool:
        """Consume one header line (or junk); False when more bytes are needed."""
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) <= MAX_HEADER_LINE:
                return False
            line = bytes(self.buffer)  # no line end in sight: junk unless a header starts in it
            match = _LENGTH_HEADER.search(line)
            keep = match.start() if match is not None else len(line) - 32
            events.append(Skipped(f"dropped {keep} bytes that are not a message header: {_preview(line)}"))
            del self.buffer[:keep]
            return True
        line = bytes(self.buffer[:end]).rstrip(b"\r")
        del self.buffer[: end + 1]
        if not line.strip():
            if self.headers:
                self._end_of_headers(events)
            return True
        match = _LENGTH_HEADER.search(line)
        if match is not None and match.start() > 0:  # the rest of a message longer than its Content-Length said
            events.append(Skipped(f"dropped {match.start()} bytes before a header: {_preview(line)}"))
            self.headers.clear()
            line = line[match.start():]
        header = _HEADER.fullmatch(line)
        if header is None:
            events.append(Skipped(f"dropped a line that is not a message header: {_preview(line)}"))
            return True
        name, value = header.group(1).lower(), header.group(2)
        if name == b"content-length" and name in self.headers and self.headers[name] != value:
            events.append(Broken(f"two different Content-Length headers ({self.headers[name]!r}, {value!r})"))
            return True
        self.headers[name] = value
        return True

    def _end_of_headers(self, events: list[Event]) -> None:
        headers, self.headers = self.headers, {}
        value = headers.get(b"content-length")
        if value is None:
            names = ", ".join(n.decode("ascii", "replace") for n in headers)
            events.append(Broken(f"a message header without Content-Length (headers: {names}): where the message "
                                 "ends cannot be known"))
            return
        if not value.isdigit():
            events.append(Broken(f"Content-Length {_preview(value)} is not a number of bytes: where the message "
                                 "ends cannot be known"))
            return
        length = int(value) if len(value) <= 18 else self.max_body + 1  # not a 4,300-digit int() either
        if length > self.max_body:
            events.append(Broken(f"Content-Length {_preview(value, 30)} is beyond the {self.max_body}-byte limit of "
                                 "a message"))
            return
        self.length = length


# --- JSON-RPC validity ---------------------------------------------------------------------------------------------

_MISSING = object()


def error_response(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def parse_message(body: bytes) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(message, []) for a valid JSON-RPC 2.0 message; (None, error responses) for anything else.

    Per JSON-RPC 2.0: not JSON -> -32700 with id null; not a request, notification or response -> -32600 with the
    id when one can be read. The LSP does not allow batches: each request of a batch gets -32600 (so no client waits
    for an answer that never comes).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return None, [error_response(None, PARSE_ERROR, f"Parse error: the message is not JSON ({exc})")]
    if isinstance(data, list):
        ids = [item["id"] for item in data if isinstance(item, dict) and _valid_id(item.get("id"))]
        reason = "Invalid Request: the Language Server Protocol has no batches; send one message at a time"
        return None, [error_response(i, INVALID_REQUEST, reason) for i in ids] or [
            error_response(None, INVALID_REQUEST, reason)]
    if not isinstance(data, dict):
        return None, [error_response(None, INVALID_REQUEST, "Invalid Request: a message is a JSON object")]
    msg_id = data.get("id", _MISSING)
    answer_id = msg_id if _valid_id(msg_id) else None
    if msg_id is not _MISSING and msg_id is not None and not _valid_id(msg_id):
        return None, [error_response(None, INVALID_REQUEST, "Invalid Request: an id is a string or an integer")]
    if data.get("jsonrpc") != "2.0":
        return None, [error_response(answer_id, INVALID_REQUEST,
                                     f'Invalid Request: "jsonrpc" must be "2.0", not {data.get("jsonrpc")!r}')]
    if "method" in data:
        if not isinstance(data["method"], str):
            return None, [error_response(answer_id, INVALID_REQUEST, "Invalid Request: the method is not a string")]
        params = data.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return None, [error_response(answer_id, INVALID_REQUEST,
                                         "Invalid Request: params must be an object or an array")]
        return data, []
    if msg_id is not _MISSING and ("result" in data or "error" in data):
        return data, []  # a response to one of our requests
    return None, [error_response(answer_id, INVALID_REQUEST, "Invalid Request: no method")]
