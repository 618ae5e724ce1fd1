"""From a judged call to the question its hub can answer: which hub, which id, which ref and entrypoint.

Also decides what is not worth asking: a local directory (`./out`, `checkpoints/run-3`, a folder that exists beside
the file), an id for a hub this project cannot check (ModelScope, PaddleHub), a bare name given to a library that does
not resolve bare names on the Hugging Face Hub (`EfficientNet.from_pretrained('efficientnet-b0')`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from index.calls import Arg, CallSite
from index.hubs.answers import Target
from index.hubs.urlhubs import split_handle
from index.identity import CallIdentity

# Libraries whose loaders take Hugging Face Hub ids (bare legacy ids included).
HF_LIBRARIES = frozenset({
    "transformers", "diffusers", "sentence_transformers", "huggingface_hub", "peft", "optimum", "timm", "open_clip",
    "setfit", "span_marker", "trl", "gliner", "accelerate",
})
# Libraries with hubs of their own, which this project cannot ask.
OTHER_HUBS = frozenset({"modelscope", "paddlehub", "paddlenlp", "paddle", "efficientnet_pytorch", "mmdet", "mmseg",
                        "mmcv", "mmpretrain", "gluoncv", "mxnet", "tensorflow_datasets", "kagglehub"})
_HF_BARE_CALLEES = frozenset({"pipeline", "SentenceTransformer", "CrossEncoder"})
_SENTENCE_TRANSFORMERS = "sentence-transformers"
_LOCAL_DIRS = frozenset({
    "models", "model", "checkpoints", "checkpoint", "ckpt", "ckpts", "output", "outputs", "out", "runs", "results",
    "saved_models", "saved_model", "weights", "pretrained", "pretrained_models", "tmp", "temp", "data", "logs",
    "experiments", "exp", "exps", "artifacts", "cache", "save", "saved", "trained", "local", "finetuned", "export",
})
_CHECKPOINT = re.compile(r"(^|[/_-])(checkpoint|ckpt)[-_]?\d*($|/)", re.I)
_HF_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")
_BARE_HUB_NAME = re.compile(r"[A-Za-z0-9.]+(-[A-Za-z0-9.]+)*")
_REPO = re.compile(r"[\w.\-]+/[\w.\-]+")


def _literal(arg: Arg | None) -> str | None:
    return arg.value.strip() if arg is not None and arg.value is not None else None


def library_of(callee: str, imports: dict[str, str]) -> str | None:
    """The top-level module a callee comes from, as the file imports it (`AutoModel.x` -> 'transformers')."""
    path = imports.get(callee.split(".", 1)[0])
    return path.split(".", 1)[0] if path else None


def looks_local(value: str, base_dirs: Sequence[Path] = ()) -> bool:
    """A path on this machine rather than a hub id: a known folder name, a checkpoint, or an existing path."""
    first = value.split("/", 1)[0].lower()
    if first in _LOCAL_DIRS or _CHECKPOINT.search(value):
        return True
    for base in base_dirs:
        try:
            if (base / value).exists():
                return True
        except (OSError, ValueError):
            continue
    return False


def torchhub_target(call: CallSite, identity: CallIdentity) -> Target | None:
    arg = call.keyword("repo_or_dir", "github") or (call.positional()[0] if call.positional() else None)
    written = _literal(arg)
    if written is None:
        return None
    repo, _, ref = written.partition(":")
    if not _REPO.fullmatch(repo) or repo.startswith("."):
        return None
    entry = identity.key[1] if len(identity.key) > 1 else ""
    return Target("torchhub", f"torchhub:{repo.lower()}@{ref}", (repo,), ref=ref, entry=entry)


def url_target(raw: str) -> Target | None:
    split = split_handle(raw)
    if split is None:
        return None
    hub, path = split
    return Target(hub, f"{hub}:{path}", (path,))  # type: ignore[arg-type]


def hf_target(
    call: CallSite, identity: CallIdentity, imports: dict[str, str], base_dirs: Sequence[Path],
    is_transformers_name: Callable[[str], bool],
) -> Target | None:
    raw = identity.raw or identity.primary
    for prefix in ("hf_hub:", "hf-hub:"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix):]
    if not _HF_ID.fullmatch(raw) or raw.endswith((".", "-")) or looks_local(raw, base_dirs):
        return None
    repo_type = _literal(call.keyword("repo_type"))
    if repo_type not in (None, "model"):
        return None
    library = library_of(call.callee, imports)
    if library in OTHER_HUBS:
        return None
    if "/" in raw:
        return Target("huggingface", f"hf:{raw}", (raw,))
    # A bare name: a legacy Hub id (`bert-base-uncased`, `gpt2`) or a local folder. Only libraries that resolve bare
    # names on the Hub are asked, and only about names shaped like Hub ids (hyphenated or with a digit).
    receiver = identity.callee.split(".", 1)[0]
    resolves_bare = (
        identity.callee in _HF_BARE_CALLEES or library in HF_LIBRARIES
        or (not imports and is_transformers_name(receiver))
    )
    if not resolves_bare or not _BARE_HUB_NAME.fullmatch(raw) or not re.search(r"[-\d]", raw):
        return None
    if identity.callee == "SentenceTransformer":
        names = (f"{_SENTENCE_TRANSFORMERS}/{raw}", raw)
        return Target("huggingface", "hf:" + "|".join(names), names)
    return Target("huggingface", f"hf:{raw}", (raw,))
