"""A stand-in for the model hubs on 127.0.0.1, answering the URL shapes the real clients ask, from a fixture list.

One HTTP server serves every hub under its own prefix, so one port stands in for all of them:

    HF_ENDPOINT              = http://127.0.0.1:PORT/hf        GET /api/models/{repo_id}
    GORILLA_LSP_TORCHHUB_URL = http://127.0.0.1:PORT/torchhub  GET /{owner}/{repo}/{ref}/hubconf.py
    GORILLA_LSP_TFHUB_URL    = http://127.0.0.1:PORT/tfhub     HEAD/GET /{path}
    GORILLA_LSP_KAGGLE_URL   = http://127.0.0.1:PORT/kaggle    HEAD/GET /models/{path}

Fixture behaviours: `exists`, `gated`, `private` (401 as the Hub answers without a token), `timeout` (answers after
`slow_seconds`), `error` (500), `ratelimit` (429), `head_refused` (405 to HEAD, 200 to GET), `redirect:PATH` (302 to
another path of the stand-in). Anything not listed is not found (404, with the Hub's `X-Error-Code: RepoNotFound`).
`python -m tests.hubs.standin --fixtures FILE` runs it on its own and prints its base URL.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "hubs" / "fixtures.json"


class Fixtures:
    def __init__(self, data: dict[str, Any], root: Path) -> None:
        self.root = root
        self.huggingface: dict[str, str] = data.get("huggingface", {})
        self.patterns: list[tuple[re.Pattern[str], str]] = [
            (re.compile(p), b) for p, b in data.get("huggingface_patterns", [])
        ]
        self.torchhub: dict[str, dict[str, str]] = data.get("torchhub", {})
        self.urls: dict[str, str] = {f"tfhub/{k}": v for k, v in data.get("tfhub", {}).items()}
        self.urls.update({f"kaggle/models/{k}": v for k, v in data.get("kaggle", {}).items()})
        self.url_patterns: list[tuple[re.Pattern[str], str]] = [
            (re.compile(p), b) for p, b in data.get("url_patterns", [])
        ]

    @classmethod
    def load(cls, path: Path = FIXTURES) -> Fixtures:
        return cls(json.loads(path.read_text()), path.parent)

    def hf(self, repo_id: str) -> str:
        if repo_id in self.huggingface:
            return self.huggingface[repo_id]
        return next((b for p, b in self.patterns if p.fullmatch(repo_id)), "missing")

    def url(self, path: str) -> str:
        if path in self.urls:
            return self.urls[path]
        return next((b for p, b in self.url_patterns if p.fullmatch(path)), "missing")


class StandIn:
    """The running stand-in: its base URL, the environment that points the clients at it, and what it was asked."""

    def __init__(self, fixtures: Fixtures, latency: float = 0.0, slow_seconds: float = 3.0, port: int = 0) -> None:
        self.fixtures = fixtures
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="hub-standin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def environ(self) -> dict[str, str]:
        return {
            "HF_ENDPOINT": f"{self.url}/hf",
            "GORILLA_LSP_TORCHHUB_URL": f"{self.url}/torchhub",
            "GORILLA_LSP_TFHUB_URL": f"{self.url}/tfhub",
            "GORILLA_LSP_KAGGLE_URL": f"{self.url}/kaggle",
        }

    def total(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _answer(self, head: bool) -> None:
        standin = self.standin
        path = unquote(urlsplit(self.path).path).lstrip("/")
        with standin.lock:
            standin.requests[f"{self.command} /{path}"] += 1
        if standin.latency:
            time.sleep(standin.latency)
        hub, _, rest = path.partition("/")
        try:
            if hub == "hf" and rest.startswith("api/models/"):
                self._huggingface(rest[len("api/models/"):], head)
            elif hub == "torchhub":
                self._torchhub(rest, head)
            elif hub in ("tfhub", "kaggle"):
                self._url(path, head)
            else:
                self._send(404, b"not a stand-in route", head=head)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): nothing to answer
            pass

    def _behave(self, behaviour: str, head: bool) -> bool:
        """Shared behaviours; True when the request was answered."""
        if behaviour == "timeout":
            time.sleep(self.standin.slow_seconds)
            self._send(200, b"{}", head=head)
            return True
        if behaviour == "error":
            self._send(500, b"internal error", head=head)
            return True
        if behaviour == "ratelimit":
            self._send(429, b"slow down", {"Retry-After": "60"}, head=head)
            return True
        return False

    def _huggingface(self, repo_id: str, head: bool) -> None:
        repo_id = repo_id.split("/revision/", 1)[0]
        behaviour = self.standin.fixtures.hf(repo_id)
        if self._behave(behaviour, head):
            return
        if behaviour == "exists":
            body = json.dumps({"id": repo_id, "modelId": repo_id, "private": False, "sha": "0" * 40}).encode()
            self._send(200, body, {"Content-Type": "application/json"}, head)
        elif behaviour == "gated":
            self._send(403, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo", "X-Error-Message": "gated"}, head)
        elif behaviour == "private":
            self._send(401, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}, head)
        else:
            self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound",
                                                                    "X-Error-Message": "Repository not found"}, head)

    def _torchhub(self, rest: str, head: bool) -> None:
        match = re.fullmatch(r"([^/]+/[^/]+)/(.+)/hubconf\.py", rest)
        refs = self.standin.fixtures.torchhub.get(match.group(1), {}) if match else {}
        behaviour = refs.get(match.group(2)) if match else None
        if behaviour is None:
            self._send(404, b"404: Not Found", head=head)
        elif not self._behave(behaviour, head):
            self._send(200, (self.standin.fixtures.root / behaviour).read_bytes(), {"Content-Type": "text/plain"}, head)

    def _url(self, path: str, head: bool) -> None:
        behaviour = self.standin.fixtures.url(path)
        if self._behave(behaviour, head):
            return
        if behaviour == "exists":
            self._send(200, b"<html>model page</html>", {"Content-Type": "text/html"}, head)
        elif behaviour == "head_refused":
            self._send(405, b"", head=head) if head else self._send(200, b"<html>model page</html>")
        elif behaviour.startswith("redirect:"):
            self._send(302, b"", {"Location": f"{self.standin.url}/{behaviour[len('redirect:'):]}"}, head)
        else:
            self._send(404, b"not found", head=head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with StandIn(Fixtures.load(args.fixtures), args.latency_ms / 1000, port=args.port) as standin:
        print(standin.url, flush=True)
        try:
            standin.thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
