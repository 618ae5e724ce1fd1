"""Call identity: which API a call names, whatever way it is written.

`torch.hub.load('pytorch/vision', 'resnet50')`, `torch.hub.load(repo_or_dir="pytorch/vision", model="resnet50",
pretrained=True)` and `torch.hub.load('pytorch/vision:v0.10.0', 'resnet50')` are one API: the identity keeps the
callee and the identifying argument values, normalised, and drops optional arguments and quote styles.
"""

from __future__ import annotations

import re

import msgspec

from index.calls import Arg, CallSite

# Where the identifying arguments sit, per callee (positional names, in order).
_POSITIONAL = {
    "torch.hub.load": ("repo_or_dir", "model"),
    "pipeline": ("task", "model"),
}
_TFHUB_CALLEES = ("hub.load", "hub.KerasLayer", "hub.Module", "hub.resolve", "hub.load_module_spec")
_TORCHHUB_CALLEES = ("torch.hub.load", "torch.hub.help", "torch.hub.list")
# Callees that load by hub id whether or not the API database has a record for them (hub verification examines them).
HUB_LOADERS = frozenset({
    *_TORCHHUB_CALLEES, *_TFHUB_CALLEES, "pipeline", "SentenceTransformer", "CrossEncoder", "timm.create_model",
    "hf_hub_download", "snapshot_download",
})
HUB_LOADER_METHODS = frozenset({"from_pretrained"})
_ID_KEYWORDS = (
    "repo_or_dir",
    "github",
    "model",
    "handle",
    "pretrained_model_name_or_path",
    "model_name_or_path",
    "model_name",
    "model_id",
    "repo_id",
    "source",
    "task",
)
# Conventional local names of modules, as the API database writes its calls.
_MODULE_ALIASES = {"tensorflow_hub": "hub", "tensorflow": "tf", "numpy": "np"}
_LOCAL_FILE = re.compile(r"\.(bin|pt|pth|ckpt|joblib|pkl|pickle|h5|hdf5|onnx|safetensors|json|zip|tar|gz|npy|npz)$", re.I)


class CallIdentity(msgspec.Struct, frozen=True):
    """`namespace` + `primary` says whether an API exists; `callee` + `key` says exactly which call it is."""

    callee: str
    key: tuple[str, ...]
    namespace: str
    primary: str
    aliases: tuple[str, ...] = ()  # other primaries that name the same API (a repo's wildcard entry)
    raw: str = ""  # the identifying value as written (hubs are asked with its case kept)

    @property
    def exact(self) -> tuple[str, tuple[str, ...]]:
        return self.callee, self.key

    def __str__(self) -> str:
        return f"{self.callee}({', '.join(repr(k) for k in self.key)})"


def canonical_callee(callee: str, imports: dict[str, str] | None = None) -> str:
    """Rewrite a callee as the database writes it, following the file's imports (`tfhub.load` -> `hub.load`)."""
    if not imports:
        return callee
    head, _, rest = callee.partition(".")
    path = imports.get(head)
    if path is None:
        return callee
    full = f"{path}.{rest}" if rest else path
    module, _, tail = full.partition(".")
    if module in _MODULE_ALIASES:
        return f"{_MODULE_ALIASES[module]}.{tail}" if tail else _MODULE_ALIASES[module]
    if module == "torch":
        return full
    # `from transformers import AutoModel` -> the database says `AutoModel.from_pretrained`.
    return f"{path.rsplit('.', 1)[-1]}.{rest}" if rest else path.rsplit(".", 1)[-1]


def _normalise_url(url: str) -> str:
    url = url.strip().split("?", 1)[0].rstrip("/")
    return re.sub(r"^https?://", "https://", url, flags=re.I).lower()


def _literal(arg: Arg | None) -> str | None:
    return arg.value.strip() if arg is not None and arg.value is not None else None


def call_identity(call: CallSite, callee: str | None = None) -> CallIdentity | None:
    """The identity of a call, or None when its identifying argument is not a literal (a variable, an f-string)."""
    callee = callee or call.callee
    positional = call.positional()
    if callee in _TORCHHUB_CALLEES:
        repo_arg = call.keyword("repo_or_dir", "github")
        rest = positional if repo_arg is not None else positional[1:]
        repo = _literal(repo_arg or (positional[0] if positional else None))
        models = [m for m in (_literal(a) for a in [call.keyword("model"), *rest] if a is not None)]
        if repo is None or (models and models[0] is None) or call.keyword("source") is not None:
            return None
        repo = repo.split(":", 1)[0].lower()
        # `torch.hub.load(repo_or_dir='pytorch/fairseq')` in the database stands for every entry point of the repo;
        # `torch.hub.load('szq0214/MEAL-V2', 'meal_v2', 'mealv2_resnest50')` names the model in its third argument.
        names = [m for m in models if m is not None]
        aliases = tuple(f"{repo}:{m}" for m in names[1:]) + (f"{repo}:*",)
        if not names:
            return CallIdentity(callee, (repo,), "torchhub", f"{repo}:*")
        return CallIdentity(callee, (repo, names[0]), "torchhub", f"{repo}:{names[0]}", aliases)
    if callee in _TFHUB_CALLEES:
        handle = _literal(call.keyword("handle", "model") or (positional[0] if positional else None))
        if handle is None:
            return None
        url = _normalise_url(handle)
        return CallIdentity(callee, (url,), "tfhub", url, raw=handle)
    if callee == "pipeline":
        task = _literal(call.keyword("task") or (positional[0] if positional else None))
        model_arg = call.keyword("model") or (positional[1] if len(positional) > 1 else None)
        model = _literal(model_arg)
        if model_arg is not None and model is None:
            return None
        if model:
            return CallIdentity(callee, (task or "", model.lower()), "hf", model.lower(), raw=model)
        if task is None:
            return None
        return CallIdentity(callee, (task,), "hf-task", task)
    if callee == "timm.create_model":
        name = _literal(call.keyword("model_name") or (positional[0] if positional else None))
        if name is None or not name.lower().startswith(("hf_hub:", "hf-hub:")):
            return None  # a timm registry name, not a hub id
        return CallIdentity(callee, (name.lower(),), "hf", name[7:].lower(), raw=name[7:])
    arg = call.keyword(*_ID_KEYWORDS)
    if arg is None and positional:
        # `HappyTextToText('T5', 'vennify/t5-base-grammar-correction')`: the hub id is the argument with a slash.
        arg = next((a for a in positional if a.value and "/" in a.value), positional[0])
    value = _literal(arg)
    if value is None:
        return None
    aliases: tuple[str, ...] = ()
    if callee == "SentenceTransformer" and "/" not in value:
        aliases = (f"sentence-transformers/{value.lower()}",)  # how sentence-transformers resolves a bare name
    return CallIdentity(callee, (value.lower(),), "hf", value.lower(), aliases, raw=value)


def identifying_arg(call: CallSite, callee: str, torchhub_repo: bool = False) -> Arg | None:
    """The argument that names the model (what a diagnostic underlines); `torchhub_repo` asks for the repository."""
    positional = call.positional()
    if callee in _TORCHHUB_CALLEES:
        repo_arg = call.keyword("repo_or_dir", "github")
        if torchhub_repo:
            return repo_arg or (positional[0] if positional else None)
        rest = positional if repo_arg is not None else positional[1:]
        return call.keyword("model") or (rest[0] if rest else None)
    if callee in _TFHUB_CALLEES:
        return call.keyword("handle", "model") or (positional[0] if positional else None)
    if callee == "pipeline":
        return call.keyword("model") or (positional[1] if len(positional) > 1 else None)
    if callee == "timm.create_model":
        return call.keyword("model_name") or (positional[0] if positional else None)
    arg = call.keyword(*_ID_KEYWORDS)
    if arg is None and positional:
        arg = next((a for a in positional if a.value and "/" in a.value), positional[0])
    return arg


def looks_like_hub_id(identity: CallIdentity, bare_names: bool = True) -> bool:
    """True when the identifying value names something on a hub, not a local file or directory.

    `bare_names=False` asks for an `org/name` id: a bare `'t5'` passed to an arbitrary function is too weak a sign.
    """
    value = identity.primary
    if identity.namespace == "tfhub":
        return value.startswith("https://")
    if identity.namespace == "torchhub":
        return "/" in value.split(":", 1)[0] and not value.startswith((".", "/", "~"))
    if identity.namespace == "hf-task":
        return False
    if not value or value.startswith((".", "/", "~", "\\")) or ":\\" in value or _LOCAL_FILE.search(value):
        return False
    if not bare_names and "/" not in value:
        return False
    return bool(re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", value))
