"""Fault injection over stdio: a hostile client writing raw bytes to the real `gorilla-lsp serve` process.

Every case of issue 12 that is about the protocol, the process or load: framing errors, invalid JSON-RPC, exit codes,
`shutdown` and `exit` while work runs, 1,000 pipelined completions, a completion while a 5 MB document is checked.
Timings are not asserted beyond "it did not hang" (generous limits); `benchmarks/lsp_server.py` measures them.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lsp.conftest import API_DB, REPO, server_env

INVENTED = "torch.hub.load('pytorch/vision', 'resnet9000')"


class RawServer:
    """The server process and a reader thread that frames what it writes; the test writes whatever bytes it likes."""

    def __init__(self, api_db: Path = API_DB) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lsp_server", "serve", "--api-db", str(api_db)], cwd=REPO, env=server_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.pending: list[dict[str, Any]] = []

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            self.messages.put(json.loads(out.read(int(headers["content-length"]))))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any], header: bytes = b"Content-Length") -> None:
        body = json.dumps(message).encode()
        self.write(header + b": %d\r\n\r\n" % len(body) + body)

    def request(self, msg_id: Any, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def next(self, check=lambda m: True, timeout: float = 30) -> dict[str, Any]:
        """The next message (kept or new) for which `check` holds."""
        for number, message in enumerate(self.pending):
            if check(message):
                return self.pending.pop(number)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such message from the server in {timeout} s; stderr:\n"
                                     f"{self.stderr.decode(errors='replace')[-3000:]}") from None
            if check(message):
                return message
            self.pending.append(message)

    def answer(self, msg_id: Any, timeout: float = 30) -> dict[str, Any]:
        return self.next(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def initialize(self, options: Any = None) -> None:
        self.request("init", "initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {},
                                            "initializationOptions": options})
        assert "capabilities" in self.answer("init")["result"]
        self.notify("initialized", {})

    def wait(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def raw():
    server = RawServer()
    yield server
    server.close()


def open_doc(server: RawServer, uri: str, text: str) -> None:
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})


def completion(server: RawServer, msg_id: Any, uri: str, line: int, character: int = 0) -> None:
    server.request(msg_id, "textDocument/completion", {"textDocument": {"uri": uri},
                                                       "position": {"line": line, "character": character}})


def still_serving(server: RawServer, msg_id: str = "alive") -> None:
    server.request(msg_id, "textDocument/hover", {"textDocument": {"uri": "file:///never.py"},
                                                  "position": {"line": 0, "character": 0}})
    assert server.answer(msg_id) == {"jsonrpc": "2.0", "id": msg_id, "result": None}


# --- framing ---------------------------------------------------------------------------------------------------------

def test_header_names_in_any_case_and_extra_headers(raw: RawServer) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
    raw.write(b"content-type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: %d\r\n\r\n" % len(body)
              + body)
    assert "capabilities" in raw.answer(1)["result"]
    raw.send({"jsonrpc": "2.0", "method": "initialized", "params": {}}, header=b"CONTENT-LENGTH")
    still_serving(raw)


def test_a_wrong_length_is_survived(raw: RawServer) -> None:
    raw.initialize()
    short = json.dumps({"jsonrpc": "2.0", "id": "short", "method": "textDocument/hover", "params": {}}).encode()
    raw.write(b"Content-Length: %d\r\n\r\n" % (len(short) - 4) + short)  # 4 bytes too few
    error = raw.next(lambda m: m.get("error", {}).get("code") == -32700)
    assert error["id"] is None
    still_serving(raw, "after-short")
    long = json.dumps({"jsonrpc": "2.0", "id": "long", "method": "textDocument/hover",
                       "params": {"textDocument": {"uri": "file:///n.py"}, "position": {"line": 0, "character": 0}}})
    raw.write(b"Content-Length: %d\r\n\r\n" % (len(long) + 20) + long.encode())  # 20 too many, then nothing
    assert raw.answer("long")["result"] is None  # taken once the input stalled
    still_serving(raw, "after-long")
    assert raw.proc.poll() is None and b"Traceback" not in raw.stderr


def test_junk_between_messages_is_skipped_and_logged(raw: RawServer) -> None:
    raw.initialize()
    raw.write(b"\r\nthis is not a header\r\n")
    still_serving(raw)
    assert b"not a message header" in raw.stderr


@pytest.mark.parametrize("head, reason", [
    (b"Content-Length: abc\r\n\r\n", b"not a number of bytes"),
    (b"Content-Length: 99999999999999999999999999\r\n\r\n", b"beyond the"),
    (b"Content-Type: application/vscode-jsonrpc\r\n\r\n", b"without Content-Length"),
])
def test_a_stream_that_cannot_be_followed_ends_the_process_with_the_reason(raw: RawServer, head: bytes,
                                                                          reason: bytes) -> None:
    raw.initialize()
    raw.write(head + b'{"jsonrpc": "2.0", "id": 9, "method": "shutdown"}')
    assert raw.wait(10) == 3
    assert reason in raw.stderr and b"Traceback" not in raw.stderr and b"MemoryError" not in raw.stderr


# --- JSON-RPC validity -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("message, code, msg_id", [
    (b"{not json", -32700, None),
    (b'{"id": 7, "method": "textDocument/hover", "params": {}}', -32600, 7),
    (b'{"jsonrpc": "1.0", "id": 8, "method": "textDocument/hover", "params": {}}', -32600, 8),
    (b'{"jsonrpc": "2.0", "id": 9}', -32600, 9),
    (b'{"jsonrpc": "2.0", "id": 10, "method": 5}', -32600, 10),
    (b'[{"jsonrpc": "2.0", "id": 11, "method": "shutdown"}]', -32600, 11),
    (b"[]", -32600, None),
    (b"42", -32600, None),
])
def test_invalid_messages_are_answered_with_their_error(raw: RawServer, message: bytes, code: int,
                                                        msg_id: Any) -> None:
    raw.initialize()
    raw.write(b"Content-Length: %d\r\n\r\n" % len(message) + message)
    error = raw.next(lambda m: "error" in m and m.get("id") == msg_id)
    assert error["error"]["code"] == code and error["jsonrpc"] == "2.0"
    still_serving(raw)


def test_invalid_params_and_unknown_methods(raw: RawServer) -> None:
    raw.initialize()
    raw.request("neg", "textDocument/completion", {"textDocument": {"uri": "file:///a.py"},
                                                   "position": {"line": -1, "character": 0}})
    assert raw.answer("neg")["error"]["code"] == -32602
    raw.request("nope", "gorilla/noSuchMethod", {})
    assert raw.answer("nope")["error"]["code"] == -32601
    raw.notify("textDocument/didOpen", {"textDocument": "not an object"})  # a notification: no answer, no crash
    raw.notify("$/cancelRequest", {"id": "never-sent"})
    still_serving(raw)


# --- exit codes, shutdown ---------------------------------------------------------------------------------------------

def test_exit_without_shutdown_is_code_1(raw: RawServer) -> None:
    raw.initialize()
    raw.notify("exit")
    assert raw.wait(5) == 1


def test_shutdown_then_exit_is_code_0_and_later_requests_are_refused(raw: RawServer) -> None:
    raw.initialize()
    raw.request("bye", "shutdown")
    assert raw.answer("bye") == {"jsonrpc": "2.0", "id": "bye", "result": None}
    raw.request("late", "textDocument/hover", {"textDocument": {"uri": "file:///a.py"},
                                               "position": {"line": 0, "character": 0}})
    assert raw.answer("late")["error"]["code"] == -32600
    raw.notify("exit")
    assert raw.wait(5) == 0


def test_end_of_input_without_exit(raw: RawServer) -> None:
    raw.initialize()
    assert raw.proc.stdin is not None
    raw.proc.stdin.close()
    assert raw.wait(5) == 1


def test_exit_does_not_wait_for_a_long_check(raw: RawServer) -> None:
    raw.initialize()
    block = "".join(f"def f{i}(x):\n    return x * {i}  # just code\n" for i in range(40))
    open_doc(raw, "file:///work/huge.py", "import torch\n" + block * (10_000_000 // len(block)))
    time.sleep(0.5)  # the check of 10 MB is under way
    started = time.monotonic()
    raw.request("bye", "shutdown")
    raw.answer("bye", timeout=10)
    raw.notify("exit")
    assert raw.wait(10) == 0
    assert time.monotonic() - started < 5  # before: the process waited for the check to end


def test_exit_while_the_encoder_loads() -> None:
    server = RawServer()
    try:
        server.initialize({"gorillaLsp": {"retrieval": {"hybrid": True}}})
        server.request("bye", "shutdown")
        server.answer("bye", timeout=10)
        server.notify("exit")
        assert server.wait(10) == 0
    finally:
        server.close()


# --- load ------------------------------------------------------------------------------------------------------------

def test_pipelined_completions_are_superseded_quietly(raw: RawServer) -> None:
    raw.initialize()
    uri = "file:///work/pipelined.py"
    open_doc(raw, uri, "import torch\n\n# classify images of dogs and cats\n\n")
    count = 1000
    for number in range(count):
        completion(raw, number, uri, 3)
    answers = {}
    while len(answers) < count:
        message = raw.next(lambda m: "id" in m and "method" not in m, timeout=120)
        assert message["id"] not in answers
        answers[message["id"]] = message
    assert answers[count - 1]["result"]["items"]  # the last one wins
    cancelled = [a for a in answers.values() if "error" in a]
    assert all(a["error"]["code"] == -32800 for a in cancelled) and len(cancelled) >= count // 2
    assert b"Traceback" not in raw.stderr and len(raw.stderr) < 16_384


def test_a_completion_does_not_wait_for_another_documents_check(raw: RawServer) -> None:
    raw.initialize()
    small = "file:///work/small.py"
    open_doc(raw, small, "import torch\n\n# classify images of dogs and cats\n\n")
    completion(raw, "warm", small, 3)
    assert raw.answer("warm")["result"]["items"]
    big = "file:///work/big.py"
    block = "".join(f"def f{i}(x):\n    return x * {i}  # just code\n" for i in range(40))
    open_doc(raw, big, "import torch\n" + block * (5_000_000 // len(block)) + f"bad = {INVENTED}\n")
    time.sleep(0.2)
    completion(raw, "during", small, 3)
    order = []
    while len(order) < 2:
        message = raw.next(lambda m: m.get("id") == "during" or (
            m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == big), timeout=120)
        order.append("completion" if message.get("id") == "during" else "big check")
    assert order == ["completion", "big check"]
