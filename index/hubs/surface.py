"""The real loader surface of each hub library, so an invented function or class is caught like an invented id.

`torch.hub.load_model(...)`, `hub.load_module(...)`, `AutoModelForMagic.from_pretrained(...)`: the paper's AST check
compares the whole call, so a call to something the library does not have is a hallucination too. torch.hub and
tensorflow_hub are small and stable: their public names are listed here. transformers has thousands of names and
changes every month: they are read from the installed package's lazy import structure (in a child process, so the
server never imports transformers or torch) and cached per version. A name that an older transformers had
(`TFAutoModel`, `BertTokenizerFast`, `ViTFeatureExtractor`, a removed model family) is never flagged.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Callable

from index.hubs.answers import HubAnswer

log = logging.getLogger(__name__)

# torch/hub.py: its __all__ and the other callables its namespace holds.
TORCH_HUB = frozenset({
    "load", "list", "help", "load_state_dict_from_url", "download_url_to_file", "get_dir", "set_dir",
    "urlopen", "urlparse", "Request", "tqdm", "HTTPError", "URLError", "Path",
})
# tensorflow_hub/__init__.py (0.16) exports.
TENSORFLOW_HUB = frozenset({
    "KerasLayer", "load", "resolve", "Module", "ModuleSpec", "load_module_spec", "eval_function_for_module",
    "add_signature", "attach_bytes", "attach_message", "create_module_spec", "create_module_spec_from_saved_model",
    "image_embedding_column", "sparse_text_embedding_column", "text_embedding_column", "text_embedding_column_v2",
    "attach_image_module_info", "get_expected_image_size", "get_num_image_channels", "ImageModuleInfo",
    "LatestModuleExporter", "register_module_for_export",
})
# transformers names removed in 5.x that 4.x code still calls (beyond the TF/Flax/Fast/FeatureExtractor rules).
TRANSFORMERS_LEGACY = frozenset({"AutoModelWithLMHead", "TFAutoModelWithLMHead", "AutoModelForVision2Seq",
                                 "TFAutoModelForVision2Seq", "FlaxAutoModelForVision2Seq", "pipeline"})
_HEADS = re.compile(r"(Model|For[A-Z]|LMHead|Tokenizer|Config|Processor|FeatureExtractor|ImageProcessor|Pipeline|"
                    r"Encoder|Decoder|PreTrained|Backbone|Extractor)")
_AUTO_SHAPE = re.compile(r"(TF|Flax)?Auto(Model|Tokenizer|Config|Processor|FeatureExtractor|ImageProcessor|Backbone)")
_SCRIPT = (
    "import json, os, sys\n"
    "os.environ.setdefault('TRANSFORMERS_NO_ADVISORY_WARNINGS', '1')\n"
    "import transformers\n"
    "names = [n for n in dir(sys.modules['transformers']) if n[:1].isupper() or n == 'pipeline']\n"
    "print(json.dumps({'version': transformers.__version__, 'names': names}))\n"
)


def transformers_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return None


def read_transformers_names(timeout: float = 60.0) -> tuple[str, frozenset[str]] | None:
    """(version, public names) of the installed transformers, read in a child process; None when it cannot be."""
    try:
        out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        return str(data["version"]), frozenset(data["names"])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, KeyError) as exc:
        log.warning("could not read the transformers loader surface: %s", exc)
        return None


def family(name: str) -> str:
    """`BertForMaskedLM` -> `Bert`; `AutoModelForMagic` -> `Auto`; '' when the name has no known head."""
    match = _HEADS.search(name, 1)
    return name[: match.start()] if match else ""


class TransformersSurface:
    """The class names of one transformers version, and the rules that keep older names from being flagged."""

    def __init__(self, version: str, names: frozenset[str], extra: frozenset[str] = frozenset()) -> None:
        self.version = version
        self.names = names | extra | TRANSFORMERS_LEGACY
        self.families = {family(n) for n in names} - {""}

    def real(self, name: str) -> bool | None:
        """True: the name is (or was) transformers'; False: invented; None: cannot tell (an unknown family)."""
        if name in self.names:
            return True
        base = re.sub(r"^(TF|Flax)(?=[A-Z])", "", name)
        candidates = {base, re.sub(r"Fast$", "", base), re.sub(r"FeatureExtractor$", "ImageProcessor", base),
                      re.sub(r"FeatureExtractor$", "Model", base)}
        if candidates & self.names:
            return True
        root = family(base)
        if not root or root not in self.families:
            return None  # a model family this version does not have (removed, or newer than it): do not guess
        return False

    def shaped_like_transformers(self, name: str) -> bool:
        return bool(_AUTO_SHAPE.match(name)) or name in self.names


class LoaderSurface:
    """What each hub library really exports; transformers' part is loaded once, in the background if asked."""

    def __init__(self, load_transformers: Callable[[], TransformersSurface | None]) -> None:
        self._load = load_transformers
        self._transformers: TransformersSurface | None = None
        self._loaded = threading.Event()
        self._lock = threading.Lock()

    def transformers(self, wait: bool = True) -> TransformersSurface | None:
        """The transformers surface; `wait=False` answers None until a load (started elsewhere) has finished."""
        if not self._loaded.is_set():
            if not wait:
                return None
            with self._lock:
                if not self._loaded.is_set():
                    try:
                        self._transformers = self._load()
                    finally:
                        self._loaded.set()
        return self._transformers

    def ready(self) -> bool:
        return self._loaded.is_set()


def cached_transformers_surface(cache_get, cache_put, extra: frozenset[str]) -> TransformersSurface | None:
    """The installed transformers' surface, from the answers cache when this version was read before."""
    version = transformers_version()
    if version is None:
        return None
    key = f"surface:transformers:{version}"
    cached: HubAnswer | None = cache_get(key)
    if cached is not None and cached.entrypoints:
        return TransformersSurface(version, frozenset(cached.entrypoints), extra)
    read = read_transformers_names()
    if read is None:
        return None
    version, names = read
    cache_put(key, HubAnswer("exists", f"transformers {version}", entrypoints=tuple(sorted(names))))
    return TransformersSurface(version, names, extra)
