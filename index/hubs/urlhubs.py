"""TF Hub and Kaggle Models: a model handle is a URL; it exists when the hub answers 2xx (404: it does not).

`https://tfhub.dev/PATH` is asked at `{GORILLA_LSP_TFHUB_URL}/PATH` and `https://www.kaggle.com/models/PATH` at
`{GORILLA_LSP_KAGGLE_URL}/models/PATH`; HEAD first (GET when HEAD is refused), redirects followed (tfhub.dev now
redirects to Kaggle), the query string (`?tf-hub-format=compressed`) dropped.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from index.hubs import http
from index.hubs.answers import HUB_NAMES, HubAnswer
from index.hubs.config import HubSettings

_TFHUB_HOSTS = {"tfhub.dev", "www.tfhub.dev", "alpha.tfhub.dev"}
_KAGGLE_HOSTS = {"kaggle.com", "www.kaggle.com"}


def split_handle(url: str) -> tuple[str, str] | None:
    """('tfhub' | 'kaggle', path) for a TF Hub or Kaggle model URL, else None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    path = parts.path.strip("/")
    if host in _TFHUB_HOSTS and path:
        return "tfhub", path
    if host in _KAGGLE_HOSTS and path.lower().startswith("models/") and path.count("/") >= 2:
        return "kaggle", path[len("models/"):]
    return None


def url_for(settings: HubSettings, hub: str, path: str) -> str:
    if hub == "kaggle":
        return f"{settings.kaggle_url}/models/{path}"
    return f"{settings.tfhub_url}/{path}"


def remote_answer(settings: HubSettings, hub: str, path: str) -> tuple[HubAnswer, int]:
    url = url_for(settings, hub, path)
    source = HUB_NAMES[hub]
    result = http.probe(url, settings.timeout)
    if result.status is not None and 200 <= result.status < 300:
        return HubAnswer("exists", source, url), result.sent
    if result.status in (404, 410):
        return HubAnswer("missing", source, url, f"HTTP {result.status}"), result.sent
    if result.status == 429:
        return HubAnswer("unknown", source, url, "rate limited (HTTP 429)"), result.sent
    return HubAnswer("unknown", source, url, result.error or f"HTTP {result.status}"), result.sent
