"""Getting the APIBench database: a download from the public Gorilla repository, or a copy of a local one.

Both paths end in the same place: files staged in a temporary folder, every API file loaded and checked, then moved
into the destination in one rename, so a broken download never replaces a working database.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import msgspec
import platformdirs

from index.loader import load_paths

log = logging.getLogger(__name__)

DEFAULT_URL = "https://raw.githubusercontent.com/ShishirPatil/gorilla/main/data"
# (path in the Gorilla repository under data/, path in our layout)
APIBENCH_FILES = (
    ("api/torchhub_api.jsonl", "api/torchhub_api.jsonl"),
    ("api/huggingface_api.jsonl", "api/huggingface_api.jsonl"),
    ("api/tensorflowhub_api.jsonl", "api/tensorflowhub_api.jsonl"),
    ("apibench/torchhub_eval.json", "eval/torchhub_eval.json"),
    ("apibench/huggingface_eval.json", "eval/huggingface_eval.json"),
    ("apibench/tensorflow_eval.json", "eval/tensorflow_eval.json"),
    ("apibench/torchhub_train.json", "train/torchhub_train.json"),
)


class PullError(Exception):
    """The database could not be fetched or is not a usable API database."""


class PullReport(msgspec.Struct):
    dest: str
    source: str
    files: list[str]
    records: int
    errors: int


def default_dest() -> Path:
    return Path(platformdirs.user_cache_dir("gorilla-lsp")) / "apibench"


def _local_candidates(src: Path, ours: str, theirs: str) -> list[Path]:
    # Accept our layout (api/, eval/, train/) and the Gorilla repository's (data/api, data/apibench).
    return [src / ours, src / theirs, src / "data" / theirs, src / Path(ours).name]


def _copy_local(src: Path, stage: Path) -> list[str]:
    if not src.is_dir():
        raise PullError(f"{src}: not a directory (expected a folder holding api/*.jsonl, e.g. ../shared/apibench)")
    copied: list[str] = []
    for theirs, ours in APIBENCH_FILES:
        for candidate in _local_candidates(src, ours, theirs):
            if candidate.is_file():
                (stage / ours).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(candidate, stage / ours)
                copied.append(ours)
                break
    return copied


def _download(url: str, stage: Path, opener: Callable[[str], object] = urllib.request.urlopen) -> list[str]:
    fetched: list[str] = []
    for theirs, ours in APIBENCH_FILES:
        target = stage / ours
        target.parent.mkdir(parents=True, exist_ok=True)
        address = f"{url.rstrip('/')}/{theirs}"
        log.info("downloading %s", address)
        try:
            with opener(address) as response, target.open("wb") as out:  # type: ignore[attr-defined]
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as exc:
            if ours.startswith("api/"):
                raise PullError(f"cannot download {address}: {exc}") from exc
            log.warning("skipping %s: %s", address, exc)
            target.unlink(missing_ok=True)
            continue
        fetched.append(ours)
    return fetched


def pull(source: str | None = None, dest: Path | None = None, url: str | None = None) -> PullReport:
    """Fetch APIBench into `dest` (default: the user cache). `source` is a local folder; otherwise download."""
    dest = dest or default_dest()
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest.parent))
    try:
        if source:
            files = _copy_local(Path(source).expanduser(), stage)
            origin = str(Path(source).expanduser().resolve())
        else:
            origin = url or os.environ.get("GORILLA_LSP_APIBENCH_URL", DEFAULT_URL)
            files = _download(origin, stage)
        if not any(f.startswith("api/") for f in files):
            raise PullError(f"{origin}: no API files found (expected api/torchhub_api.jsonl and the others)")
        result = load_paths([stage / "api"])
        if not result.records:
            raise PullError(f"{origin}: the API files hold no loadable record")
        if dest.exists():
            old = dest.with_name(dest.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            stage.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            stage.rename(dest)
        return PullReport(str(dest), origin, files, len(result.records), len(result.errors))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
