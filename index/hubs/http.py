"""The little HTTP the non-Hugging Face hubs need (standard library only): HEAD or GET one URL, follow redirects."""

from __future__ import annotations

import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import NamedTuple



def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gorilla-lsp")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"gorilla-lsp/{_version()} (model id verification)"
_HEAD_REFUSED = {400, 405, 501}  # servers that answer HEAD with these mean "ask me with GET"


class HttpResult(NamedTuple):
    """`status` is the final HTTP status after redirects, or None when no answer came (then `error` says why)."""

    status: int | None
    url: str
    body: bytes = b""
    error: str = ""
    sent: int = 1  # requests sent (HEAD, then GET when HEAD was refused)


class _KeepMethod(urllib.request.HTTPRedirectHandler):
    """Follow redirects with the same method: a HEAD stays a HEAD (urllib would turn it into a GET)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and req.get_method() == "HEAD":
            new.method = "HEAD"
        return new


_OPENER = urllib.request.build_opener(_KeepMethod)


def _open(url: str, method: str, timeout: float, limit: int) -> HttpResult:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # redirects are followed
            body = response.read(limit) if method == "GET" and limit else b""
            return HttpResult(response.status, response.geturl(), body)
    except urllib.error.HTTPError as exc:
        return HttpResult(exc.code, exc.geturl() or url)
    except (TimeoutError, socket.timeout):
        return HttpResult(None, url, error=f"timed out after {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return HttpResult(None, url, error=f"timed out after {timeout:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return HttpResult(None, url, error="connection refused")
        if isinstance(reason, socket.gaierror):
            return HttpResult(None, url, error=f"cannot resolve {urllib.parse.urlsplit(url).hostname}")
        return HttpResult(None, url, error=str(getattr(reason, "strerror", None) or reason))
    except (OSError, ValueError) as exc:  # reset connections, bad URLs, malformed responses
        return HttpResult(None, url, error=str(exc) or type(exc).__name__)


def probe(url: str, timeout: float) -> HttpResult:
    """Does `url` exist? HEAD first, GET when the server refuses HEAD; the query string is dropped."""
    url = url.split("?", 1)[0].split("#", 1)[0]
    result = _open(url, "HEAD", timeout, 0)
    if result.status in _HEAD_REFUSED:
        result = _open(url, "GET", timeout, 1)._replace(sent=2)
    return result


def fetch(url: str, timeout: float, limit: int = 2_000_000) -> HttpResult:
    """GET `url` (its first `limit` bytes)."""
    return _open(url, "GET", timeout, limit)
