"""Where the hubs are and whether to ask them, read once from the environment.

Every endpoint can be pointed elsewhere (a mirror, or a stand-in on 127.0.0.1 in the tests):

- `HF_ENDPOINT` (default https://huggingface.co), `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HOME` / `HF_HUB_CACHE`
- `GORILLA_LSP_TORCHHUB_URL` (default https://raw.githubusercontent.com), `TORCH_HOME`
- `GORILLA_LSP_TFHUB_URL` (default https://tfhub.dev), `GORILLA_LSP_KAGGLE_URL` (default https://www.kaggle.com)
- `GORILLA_LSP_OFFLINE=1`: no hub is asked; only the caches on this machine are evidence.
- `GORILLA_LSP_CACHE_DIR`: where the answers cache lives (default: the user cache directory).
- `GORILLA_LSP_HUB_TIMEOUT`: seconds to wait for one hub request (default 5).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

DEFAULT_HF = "https://huggingface.co"
DEFAULT_TORCHHUB = "https://raw.githubusercontent.com"
DEFAULT_TFHUB = "https://tfhub.dev"
DEFAULT_KAGGLE = "https://www.kaggle.com"
_TRUE = {"1", "true", "yes", "on"}


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in _TRUE


def _url(environ: Mapping[str, str], name: str, default: str) -> str:
    return (environ.get(name, "").strip() or default).rstrip("/")


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("GORILLA_LSP_CACHE_DIR", "").strip():
        return Path(env["GORILLA_LSP_CACHE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gorilla-lsp"))


class HubSettings(msgspec.Struct, frozen=True):
    online: bool = True
    hf_offline: bool = False
    hf_endpoint: str = DEFAULT_HF
    hf_token: str | None = None
    torchhub_url: str = DEFAULT_TORCHHUB
    tfhub_url: str = DEFAULT_TFHUB
    kaggle_url: str = DEFAULT_KAGGLE
    timeout: float = 5.0  # seconds, per request
    torch_hub_dir: Path | None = None
    hf_hub_cache: Path | None = None
    cache_dir: Path | None = None

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, online: bool = True, timeout: float = 5.0
    ) -> HubSettings:
        """`online=False` (the `--offline` flag, the `verification.online` setting) wins over the environment."""
        env = os.environ if environ is None else environ
        try:
            timeout = float(env.get("GORILLA_LSP_HUB_TIMEOUT", "").strip() or timeout)
        except ValueError:
            pass
        home = Path(env.get("HOME", "~")).expanduser()
        xdg_cache = Path(env.get("XDG_CACHE_HOME", "").strip() or home / ".cache")
        torch_home = Path(env.get("TORCH_HOME", "").strip() or xdg_cache / "torch").expanduser()
        hf_home = Path(env.get("HF_HOME", "").strip() or xdg_cache / "huggingface").expanduser()
        hf_cache = Path(env.get("HF_HUB_CACHE", "").strip() or hf_home / "hub").expanduser()
        return cls(
            online=online and not _flag(env, "GORILLA_LSP_OFFLINE"),
            hf_offline=_flag(env, "HF_HUB_OFFLINE"),
            hf_endpoint=_url(env, "HF_ENDPOINT", DEFAULT_HF),
            hf_token=env.get("HF_TOKEN", "").strip() or None,
            torchhub_url=_url(env, "GORILLA_LSP_TORCHHUB_URL", DEFAULT_TORCHHUB),
            tfhub_url=_url(env, "GORILLA_LSP_TFHUB_URL", DEFAULT_TFHUB),
            kaggle_url=_url(env, "GORILLA_LSP_KAGGLE_URL", DEFAULT_KAGGLE),
            timeout=timeout,
            torch_hub_dir=torch_home / "hub",
            hf_hub_cache=hf_cache,
            cache_dir=default_cache_dir(env),
        )

    def asks(self, hub: str) -> bool:
        """Whether `hub` may be asked over the network."""
        return self.online and not (hub == "huggingface" and self.hf_offline)
