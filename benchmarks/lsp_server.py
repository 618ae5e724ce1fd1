"""Benchmark the language server as an editor sees it: the real `gorilla-lsp serve` process over stdio.

Usage: python benchmarks/lsp_server.py [--api-db DIR] [--completions N] [--retrieval bm25|hybrid|both]
Prints a markdown table: start-up, retrieval-only completion latency, diagnostics after the debounce, memory; with
BM25 alone (`retrieval.hybrid: false`) and with hybrid retrieval (BM25 + the sentence encoder, the default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = (REPO / ".." / "shared" / "apibench" / "api").resolve()
DEBOUNCE_S = 0.2  # GorillaLanguageServer.debounce_seconds

REQUESTS = [
    "segment people in a video, under 10M parameters",
    "classify images of dogs and cats",
    "translate english text to german",
    "detect objects in street photos",
    "summarize a long news article",
    "transcribe speech from an audio file",
    "estimate depth from a single image",
    "generate an image from a text prompt",
    "answer questions about a table",
    "embed sentences for semantic search",
]
CALLS = [
    "torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)",
    "torch.hub.load('pytorch/vision', 'resnet9000')",
    "hub.KerasLayer('https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/4')",
    "AutoModel.from_pretrained('bert-base-uncased')",
    "pipeline('fill-mask', model='not-a-real/model-xyz')",
]


class Client:
    """A minimal JSON-RPC client: enough to time requests and notifications precisely."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.notifications: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            length = 0
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            message = json.loads(await self.proc.stdout.readexactly(length))
            now = time.perf_counter()
            if "id" in message and "method" in message:  # a request from the server: accept it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "id" in message:
                future = self.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            else:
                self.notifications.put_nowait((now, message))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return await asyncio.wait_for(future, 60)

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def wait_notification(self, method: str, check=lambda p: True, timeout: float = 30) -> tuple[float, dict]:
        deadline = time.perf_counter() + timeout
        while True:
            at, message = await asyncio.wait_for(self.notifications.get(), max(0.01, deadline - time.perf_counter()))
            if message.get("method") == method and check(message.get("params")):
                return at, message["params"]


def python_file(lines: int, call_every: int) -> str:
    """A plausible Python file: imports, functions, and a hub call every `call_every` lines."""
    out = ["import torch", "import tensorflow_hub as hub", "from transformers import AutoModel, pipeline", ""]
    i = 0
    while len(out) < lines:
        if len(out) % call_every == 0:
            out.append(f"m{i} = {CALLS[i % len(CALLS)]}")
        else:
            out.append(f"x{i} = [v * {i} for v in range({i % 7})]  # arithmetic")
        i += 1
    return "\n".join(out) + "\n"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def diagnostics_latency(client: Client, uri: str, text: str, rounds: int) -> list[float]:
    """Time from a change to its diagnostics, minus the debounce: the cost of checking the file."""
    version = 1
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})
    await client.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    samples = []
    for r in range(rounds):
        version += 1
        sent = time.perf_counter()
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": 10, "character": 0}, "end": {"line": 10, "character": 0}},
                                "text": f"# edit {r}\n"}]})
        at, _ = await client.wait_notification(
            "textDocument/publishDiagnostics", lambda p, v=version: p["uri"] == uri and p.get("version") == v)
        samples.append((at - sent - DEBOUNCE_S) * 1000)
    return samples


async def measure(api_db: str, completions: int, hybrid: bool) -> list[tuple[str, str, str, str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lsp_server", *os.environ.get("BENCH_SERVER_FLAGS", "").split(), "serve", "--api-db",
        api_db, cwd=REPO, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w"), limit=2**24,
    )
    client = Client(proc)
    options = {"gorillaLsp": {"retrieval": {"hybrid": hybrid}}}
    await client.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {},
                                        "initializationOptions": options})
    first_answer = time.perf_counter() - started
    client.notify("initialized", {})
    doc = "import torch\n\n" + "\n".join(f"# {r}\n\nprint({i})\n" for i, r in enumerate(REQUESTS))
    uri = "file:///bench/requests.py"
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": doc}})
    lines = doc.split("\n")
    blanks = [i + 1 for i, line in enumerate(lines) if line.startswith("# ")]
    result = await client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                               "position": {"line": blanks[0], "character": 0}})
    first_completion = time.perf_counter() - started
    assert result.get("result", {}).get("items"), result
    hybrid_ready = None
    if hybrid:
        at, _ = await client.wait_notification(
            "gorilla/status", lambda p: "hybrid retrieval ready" in (p.get("message") or ""), timeout=120)
        hybrid_ready = at - started

    latencies = []
    for i in range(completions):
        line = blanks[i % len(blanks)]
        t = time.perf_counter()
        result = await client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                                   "position": {"line": line, "character": 0}})
        latencies.append((time.perf_counter() - t) * 1000)
        assert result["result"]["items"]

    realistic = await diagnostics_latency(client, "file:///bench/realistic.py", python_file(2000, 10), 15)
    dense = await diagnostics_latency(client, "file:///bench/dense.py", python_file(2000, 2), 10)
    rss, peak = rss_mb(proc.pid)

    await client.request("shutdown", None)
    client.notify("exit", None)
    await proc.wait()

    def mark(ok: bool) -> str:
        return "ok" if ok else "**missed**"

    mode = "hybrid" if hybrid else "bm25"
    memory_goal = 400 if hybrid else 150
    p50, p99 = pct(latencies, 0.5), pct(latencies, 0.99)
    rows = [
        (f"{mode}: start to first answer (`initialize`)", f"{first_answer * 1000:.0f} ms", "<= 1500 ms",
         mark(first_answer <= 1.5)),
        (f"{mode}: start to first completion", f"{first_completion * 1000:.0f} ms", "<= 1500 ms",
         mark(first_completion <= 1.5)),
    ]
    if hybrid_ready is not None:
        rows.append((f"{mode}: start to hybrid retrieval ready (warm embedding cache)", f"{hybrid_ready * 1000:.0f} ms",
                     "<= 1500 ms", mark(hybrid_ready <= 1.5)))
    rows += [
        (f"{mode}: completion p50 (no model, n={len(latencies)})", f"{p50:.1f} ms", "<= 15 ms", mark(p50 <= 15)),
        (f"{mode}: completion p99", f"{p99:.1f} ms", "<= 50 ms", mark(p99 <= 50)),
        (f"{mode}: diagnostics, 2,000 lines / 200 hub calls, after debounce (median)",
         f"{statistics.median(realistic):.1f} ms", "<= 30 ms", mark(statistics.median(realistic) <= 30)),
        (f"{mode}: diagnostics, 2,000 lines / 1,000 hub calls, after debounce (median)",
         f"{statistics.median(dense):.1f} ms", "<= 30 ms", mark(statistics.median(dense) <= 30)),
        (f"{mode}: resident memory after the run (peak)", f"{rss:.0f} MB ({peak:.0f} MB)", f"< {memory_goal} MB",
         mark(peak < memory_goal)),
    ]
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-db", default=str(DEFAULT_DB))
    parser.add_argument("--completions", type=int, default=300)
    parser.add_argument("--retrieval", choices=["bm25", "hybrid", "both"], default="both")
    args = parser.parse_args()
    rows = []
    for hybrid in {"bm25": [False], "hybrid": [True], "both": [False, True]}[args.retrieval]:
        rows += await measure(args.api_db, args.completions, hybrid)
    print("| measure | value | goal | |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    asyncio.run(main())
