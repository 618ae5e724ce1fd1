"""Calls that run as inserted: the database's `api_call` strings repaired when loading, with the imports they need.

APIBench's calls are one line of Python each, but not all of them run: some do not parse (a trailing `.`, a positional
argument after a keyword one), some pass hub ids unquoted (`from_pretrained(Salesforce/blip-image-captioning-large)`),
some call a helper the record's example defines (`classifier(sequence, ...)`), and a few are placeholders
(`hub.KerasLayer(model_id)`, `.../model_id/1`) or shell commands. `repair_call` turns each into a call that parses,
whose free names are imported or marked as placeholders for the user to fill, or says why it cannot (the API is then
not suggested). The record's own `api_call` is never changed: the published evaluation reads it as published.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator

import msgspec

# Names whose import the call does not say (the records' example code says it for most others).
KNOWN_IMPORTS = {
    "torch": "import torch",
    "hub": "import tensorflow_hub as hub",
    "tf": "import tensorflow as tf",
    "pipeline": "from transformers import pipeline",
    "SentenceTransformer": "from sentence_transformers import SentenceTransformer",
    "CrossEncoder": "from sentence_transformers import CrossEncoder",
    "timm": "import timm",
    "joblib": "import joblib",
    "yolov5": "import yolov5",
    "YOLO": "from ultralyticsplus import YOLO",
    "SequenceTagger": "from flair.models import SequenceTagger",
    "load_model_ensemble_and_task_from_hf_hub": "from fairseq.checkpoint_utils import load_model_ensemble_and_task_from_hf_hub",
    "load_from_hub": "from huggingface_sb3 import load_from_hub",
    "EncoderClassifier": "from speechbrain.pretrained import EncoderClassifier",
    "SpeechRecognitionModel": "from huggingsound import SpeechRecognitionModel",
    "cached_download": "from huggingface_hub import cached_download",
    "hf_hub_url": "from huggingface_hub import hf_hub_url",
    "hf_hub_download": "from huggingface_hub import hf_hub_download",
    "from_pretrained_keras": "from huggingface_hub import from_pretrained_keras",
    "skops": "import skops.io",
    "np": "import numpy as np",
    "Text2Speech": "from espnet2.bin.tts_inference import Text2Speech",
    "VoiceActivityDetection": "from pyannote.audio.pipelines import VoiceActivityDetection",
    "Model": "from pyannote.audio import Model",
    "PPO": "from stable_baselines3 import PPO",
    "DQN": "from stable_baselines3 import DQN",
}
_DIFFUSERS = re.compile(r"(Pipeline|ControlNetModel|UNet\dD(?:Condition)?Model|Scheduler|AutoencoderKL)$")
_HF_CLASS = re.compile(r"^(?:TF|Flax)?[A-Z][A-Za-z0-9]*(?:Model|LMHead\w*|For\w+|Tokenizer\w*|Processor|FeatureExtractor|"
                       r"ImageProcessor|Config|Extractor)$")
# Keyword arguments whose value is a string even when the record wrote it bare (`subfolder=scheduler`).
_STRING_KWARGS = frozenset({"subfolder", "revision", "task", "source", "savedir", "repo_id", "model_id", "filename",
                            "model", "model_tag", "repo_or_dir"})
_BARE_ID = re.compile(r"(?P<lead>[(,=\[]\s*)(?P<id>[A-Za-z0-9_][\w.]*(?:[-/][\w.]+)+)(?=\s*[,)\]])")
_BARE_KWARG = re.compile(r"(?P<lead>\b(?P<key>\w+)\s*=\s*)(?P<id>[A-Za-z_]\w*)(?=\s*[,)])")
_STRING = re.compile(r"""('[^'\n]*'|"[^"\n]*")""")
_QUOTED_CALL = re.compile(r"""'([A-Z]\w*\.from_pretrained\([^'"()]*\))'""")
_PLACEHOLDER_STRING = re.compile(r"path_to|your_|<[^>]+>|\bmodel_id\b|/model_id/|_model_id/|YOUR[_ ]", re.I)


class RepairedCall(msgspec.Struct, frozen=True, omit_defaults=True):
    """A record's call as the product suggests it."""

    call: str  # what is inserted (may equal the record's api_call)
    imports: list[str] = []  # import lines its free names need
    placeholders: list[str] = []  # names or strings the user fills in
    changes: list[str] = []  # what was repaired, in words
    dropped: str | None = None  # why it cannot be suggested (then `call` is the record's, unrepaired)

    @property
    def repaired(self) -> bool:
        return bool(self.changes) and self.dropped is None


def import_for_name(name: str, example: str = "") -> str | None:
    """The import line for a free name: from the record's own example code, else from what these hubs use."""
    line = _import_from_example(name, example) if example else None
    if line:
        return line
    if name in KNOWN_IMPORTS:
        return KNOWN_IMPORTS[name]
    if _DIFFUSERS.search(name):
        return f"from diffusers import {name}"
    if _HF_CLASS.match(name) or name.startswith("Auto"):
        return f"from transformers import {name}"
    return None


def _import_from_example(name: str, example: str) -> str | None:
    """The import of `name` as the record's example code writes it (reduced to that one name)."""
    for raw in example.splitlines()[:80]:
        line = raw.strip()
        match = re.match(r"^from\s+([\w.]+)\s+import\s+(.+)$", line)
        if match:
            for part in match.group(2).strip("() ").split(","):
                words = part.split()
                if not words:
                    continue
                local = words[-1] if len(words) == 3 and words[1] == "as" else words[0]
                if local == name:
                    return f"from {match.group(1)} import {part.strip()}"
            continue
        match = re.match(r"^import\s+([\w.]+)(?:\s+as\s+(\w+))?\s*$", line)
        if match and (match.group(2) or match.group(1).split(".")[0]) == name:
            return line
    return None


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _quote_bare(text: str) -> str:
    """Quote hub ids written bare (`model=Lykon/DreamShaper`, `pipeline(sentiment-analysis, ...)`); strings are
    left alone, except a loader call written as a string (`vae='AutoencoderKL.from_pretrained(x/y)'`), unquoted."""
    text = _QUOTED_CALL.sub(lambda m: m.group(1), text)
    parts = _STRING.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside string literals
        part = _BARE_ID.sub(lambda m: f"{m.group('lead')}'{m.group('id')}'", parts[i])
        parts[i] = _BARE_KWARG.sub(
            lambda m: f"{m.group('lead')}'{m.group('id')}'" if m.group("key") in _STRING_KWARGS
            and m.group("id") not in ("None", "True", "False") else m.group(0), part)
    return "".join(parts)


def _split_args(inner: str) -> list[str]:
    """Top-level comma-separated parts of an argument list (brackets and quotes respected)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(inner):
        if quote:
            if ch == quote and inner[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p for p in parts if p.strip()]


def _positional_first(text: str) -> str:
    """`f(repo_or_dir='x', 'y', model='z')` -> `f('x', 'y', model='z')`: keywords before a positional lose their name."""
    open_at = text.find("(")
    if open_at < 0 or not text.endswith(")"):
        return text
    args = _split_args(text[open_at + 1 : -1])
    keyword = [re.match(r"^\s*\w+\s*=(?!=)", a) is not None for a in args]
    last_positional = max((i for i, k in enumerate(keyword) if not k), default=-1)
    fixed = [re.sub(r"^\s*\w+\s*=\s*", "", a) if keyword[i] and i < last_positional else a.strip()
             for i, a in enumerate(args)]
    return text[: open_at + 1] + ", ".join(a.strip() for a in fixed) + ")"


def _names(tree: ast.AST) -> Iterator[str]:
    """Root names the expression reads (`torch` of `torch.float16`, `AutoModel` of `AutoModel.from_pretrained`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            yield node.id


def _helper_call(name: str, example: str) -> str | None:
    """The loader call a helper name stands for in the example (`classifier = pipeline(...)`) -> that call."""
    match = re.search(rf"^\s*{re.escape(name)}\s*=\s*([A-Za-z_][\w.]*\(.*\))\s*$", example, re.M)
    return match.group(1) if match else None


def repair_call(api_call: str, example: str = "") -> RepairedCall:
    """Make a record's call runnable as inserted (see the module docstring); `example`: the record's example code."""
    original = api_call
    text = " ".join(api_call.split())
    changes: list[str] = []
    stripped = re.sub(r"(?<=[)\]])\s*[.,;:]+$", "", text)
    if stripped != text:
        changes.append("trailing punctuation removed")
        text = stripped
    if not re.match(r"^[A-Za-z_][\w.]*\s*\(", text):
        return RepairedCall(original, dropped="not a Python call (a shell command or prose)")
    if text.count("'") % 2 == 1 and text.endswith(")"):
        text = text[:-1] + "')"
        changes.append("unclosed quote closed")
    quoted = _quote_bare(text)
    if quoted != text:
        changes.append("bare hub ids quoted")
        text = quoted
    tree = _parse(text)
    if tree is None:
        reordered = _positional_first(text)
        tree = _parse(reordered)
        if tree is not None:
            changes.append("positional arguments before keyword ones")
            text = reordered
    if tree is not None and len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) \
            and isinstance(tree.body[0].value, ast.Tuple) and tree.body[0].value.elts \
            and isinstance(tree.body[0].value.elts[0], ast.Call):
        text = ast.get_source_segment(text, tree.body[0].value.elts[0]) or text
        changes.append("the first of several calls kept (the model; the others load its tokenizer)")
        tree = _parse(text)
    if tree is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr) \
            or not isinstance(tree.body[0].value, ast.Call):
        return RepairedCall(original, dropped="does not parse as one Python call")
    call = tree.body[0].value
    root = next(iter(_names(call.func)), None)
    if root is not None and import_for_name(root, example) is None:
        helper = _helper_call(root, example)
        if helper is not None:
            helper = _quote_bare(helper)
        if helper is not None and _parse(helper) is not None:
            text = helper
            changes.append(f"`{root}` (defined in the example) replaced by the call that defines it")
        elif root.endswith("pipeline") and root != "pipeline":
            text = "pipeline" + text[len(root):]
            changes.append(f"`{root}` replaced by `pipeline`")
        else:
            return RepairedCall(original, dropped=f"calls `{root}`, which nothing imports or defines")
        tree = _parse(text)
        if tree is None:
            return RepairedCall(original, dropped="does not parse as one Python call")
    # A placeholder variable the example assigns a literal to (`model_id = 'https://...'`) is completed with it.
    imports: list[str] = []
    placeholders: list[str] = []
    for name in dict.fromkeys(_names(tree)):
        line = import_for_name(name, example)
        if line is not None:
            imports.append(line)
            continue
        literal = re.search(rf"^\s*{re.escape(name)}\s*=\s*('[^'\n]+'|\"[^\"\n]+\")\s*$", example, re.M)
        if literal is not None and not _PLACEHOLDER_STRING.search(literal.group(1)):
            text = re.sub(rf"\b{re.escape(name)}\b(?!\s*=)", literal.group(1), text)
            changes.append(f"`{name}` completed from the example ({literal.group(1)})")
            continue
        placeholders.append(name)
    tree = _parse(text)
    if tree is None:
        return RepairedCall(original, dropped="does not parse as one Python call")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _PLACEHOLDER_STRING.search(node.value):
            if "model_id" in node.value and ("tfhub.dev" in node.value or "kaggle.com" in node.value):
                return RepairedCall(original, dropped=f"a placeholder model URL ({node.value})")
            placeholders.append(node.value)
    return RepairedCall(text, imports=list(dict.fromkeys(imports)), placeholders=placeholders, changes=changes)


def short_label(call: str) -> str:
    """What names the API in a list: the model id or entrypoint (`resnet50`, `facebook/detr-resnet-50`,
    `tensorflow/ssd_mobilenet_v2/2`), else the callee."""
    strings = re.findall(r"""['"]([^'"]+)['"]""", call)
    callee = re.match(r"\s*([\w.]+)", call)
    name = callee.group(1) if callee else call
    if name.endswith("hub.load") and name.startswith("torch"):
        model = re.search(r"""model\s*=\s*['"]([^'"]+)""", call)
        if model:
            return model.group(1)
        return strings[1] if len(strings) > 1 else (strings[0] if strings else name)
    for value in strings:
        if value.startswith(("http://", "https://")):
            return re.sub(r"^https?://(?:tfhub\.dev|www\.kaggle\.com/models)/", "", value)
    model = re.search(r"""model\s*=\s*['"]([^'"]+)""", call)
    if model:
        return model.group(1)
    if name == "pipeline" and strings:
        return strings[0]
    return strings[0] if strings else name
