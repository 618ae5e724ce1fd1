"""The base protocol read defensively (lsp_server.transport): framing, resynchronisation, JSON-RPC validity."""

from __future__ import annotations

import json

import pytest

from lsp_server.transport import Body, Broken, FrameDecoder, Skipped, parse_message

FIRST = b'{"jsonrpc":"2.0","id":1,"method":"a"}'
SECOND = b'{"jsonrpc":"2.0","id":2,"method":"b"}'


def frame(body: bytes, header: bytes = b"Content-Length", length: int | None = None) -> bytes:
    return header + b": %d\r\n\r\n" % (len(body) if length is None else length) + body


def bodies(events: list) -> list[bytes]:
    return [e.data for e in events if isinstance(e, Body)]


@pytest.mark.parametrize("header", [b"content-length", b"CONTENT-LENGTH", b"Content-length"])
def test_header_names_in_any_case(header: bytes) -> None:
    decoder = FrameDecoder()
    typed = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(SECOND, header.lower())
    events = decoder.feed(frame(FIRST, header) + typed)
    assert bodies(events) == [FIRST, SECOND] and not any(isinstance(e, (Skipped, Broken)) for e in events)


def test_bytes_arriving_one_at_a_time() -> None:
    decoder = FrameDecoder()
    stream = frame(FIRST) + b"Content-Type: x\r\n" + frame(SECOND)
    events = [e for byte in stream for e in decoder.feed(bytes([byte]))]
    assert bodies(events) == [FIRST, SECOND]


def test_a_length_too_short_resynchronises_on_the_next_header() -> None:
    events = FrameDecoder().feed(frame(FIRST, length=len(FIRST) - 5) + frame(SECOND))
    assert bodies(events) == [FIRST[:-5], SECOND]
    assert any(isinstance(e, Skipped) for e in events)


def test_a_length_too_long_splits_the_swallowed_message_off() -> None:
    events = FrameDecoder().feed(frame(FIRST, length=len(FIRST) + 10) + frame(SECOND))
    assert bodies(events) == [FIRST, SECOND]


def test_a_length_too_long_with_nothing_after_it_is_taken_once_the_input_stalls() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(frame(FIRST, length=len(FIRST) + 10)) == [] and decoder.reading_body
    assert bodies(decoder.stalled()) == [FIRST] and not decoder.reading_body
    assert bodies(decoder.feed(frame(SECOND))) == [SECOND]


def test_a_partial_body_that_stalls_is_waited_for() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(frame(FIRST)[:-4]) == [] and decoder.stalled() == []
    assert bodies(decoder.feed(FIRST[-4:])) == [FIRST]


def test_junk_between_messages_is_skipped() -> None:
    events = FrameDecoder().feed(b"\r\n\r\nnot a header\r\n" + frame(FIRST) + b"x" * 20000 + frame(SECOND))
    assert bodies(events) == [FIRST, SECOND] and sum(isinstance(e, Skipped) for e in events) >= 2


@pytest.mark.parametrize("head, reason", [
    (b"Content-Length: abc\r\n\r\n", "not a number"),
    (b"Content-Length: -5\r\n\r\n", "not a number"),
    (b"Content-Length: 99999999999999999999999999\r\n\r\n", "beyond"),
    (b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", "beyond"),
    (b"Content-Type: text/plain\r\n\r\n", "without Content-Length"),
    (b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "two different"),
])
def test_what_cannot_be_followed_is_said(head: bytes, reason: str) -> None:
    events = FrameDecoder().feed(head + FIRST)
    assert isinstance(events[-1], Broken) and reason in events[-1].reason


def test_an_absurd_length_is_refused_without_allocating_it() -> None:
    decoder = FrameDecoder(max_body=1000)
    events = decoder.feed(b"Content-Length: 1001\r\n\r\n")
    assert isinstance(events[-1], Broken) and len(decoder.buffer) == 0


@pytest.mark.parametrize("body, code, msg_id", [
    (b"{not json", -32700, None),
    (b"\xff\xfe\x00", -32700, None),
    (b'"a string"', -32600, None),
    (b'{"id": 3, "method": "x"}', -32600, 3),
    (b'{"jsonrpc": "1.0", "id": "q", "method": "x"}', -32600, "q"),
    (b'{"jsonrpc": "2.0", "id": 4}', -32600, 4),
    (b'{"jsonrpc": "2.0", "id": 5, "method": 7}', -32600, 5),
    (b'{"jsonrpc": "2.0", "id": 6, "method": "x", "params": "bar"}', -32600, 6),
    (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}', -32600, None),
    (b"[]", -32600, None),
])
def test_invalid_messages_get_the_error_they_deserve(body: bytes, code: int, msg_id: object) -> None:
    message, errors = parse_message(body)
    assert message is None and len(errors) == 1
    assert errors[0]["error"]["code"] == code and errors[0]["id"] == msg_id and errors[0]["jsonrpc"] == "2.0"


def test_a_batch_gets_an_error_for_each_request() -> None:
    batch = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "a"}, {"jsonrpc": "2.0", "method": "n"},
                        {"jsonrpc": "2.0", "id": "two", "method": "b"}]).encode()
    message, errors = parse_message(batch)
    assert message is None and [e["id"] for e in errors] == [1, "two"]
    assert all(e["error"]["code"] == -32600 for e in errors)


def test_valid_messages_pass() -> None:
    for body in (FIRST, b'{"jsonrpc":"2.0","method":"n"}', b'{"jsonrpc":"2.0","id":1,"result":null}',
                 b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}'):
        message, errors = parse_message(body)
        assert message is not None and errors == []
