"""API records: the raw shapes found in APIBench and API Zoo files, and the normalised record we serve.

The published files mix types per field (a field can be an object in one record and a string in the next), so the
raw Struct accepts every shape seen, and `normalise` turns one into the single typed `ApiRecord`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from index.repair import RepairedCall, repair_call

JsonShape = dict[str, Any] | list[Any] | str | float | bool | None


class RawRecord(msgspec.Struct, kw_only=True):
    """One record as published: APIBench fields and API Zoo fields, every shape each one takes."""

    api_call: str
    api_name: str | None = None
    domain: str | None = None
    framework: str | None = None
    functionality: str | list[Any] | None = None
    api_arguments: JsonShape = None
    python_environment_requirements: JsonShape = None
    env_requirements: JsonShape = None
    example_code: JsonShape = None
    performance: JsonShape = None
    description: str | None = None
    # API Zoo
    user_name: str | None = None
    api_version: str | float | None = None
    meta_data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    questions: list[Any] | str | None = None


class Performance(msgspec.Struct, frozen=True, omit_defaults=True):
    """Performance facts parsed from a record; None means the record does not say."""

    params_m: float | None = None
    top1: float | None = None
    top5: float | None = None
    dataset: str | None = None


class ApiRecord(msgspec.Struct, kw_only=True):
    """A normalised API record: text for retrieval, the call for matching, facts for constraints."""

    api_call: str
    api_name: str
    domain: str
    framework: str
    functionality: str
    description: str
    hub: str
    arguments: str
    requirements: list[str]
    example_code: str
    performance: Performance
    source: str
    line: int
    raw: dict[str, Any]
    also_at: list[str] = msgspec.field(default_factory=list)
    repair_cache: RepairedCall | None = None  # `runnable`, once asked for

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def runnable(self) -> RepairedCall:
        """The call as suggested and inserted (`api_call` stays as published, for evaluation). Repaired when first
        asked for: evaluation and `check` never need it, and most records are never suggested."""
        if self.repair_cache is None:
            self.repair_cache = repair_call(self.api_call, self.example_code)
        return self.repair_cache

    def document(self) -> dict[str, Any]:
        """The record as Gorilla's prompts and the LSP hover show it (the published JSON fields)."""
        return self.raw


HUB_BY_FRAMEWORK = {
    "pytorch": "torchhub",
    "tensorflow hub": "tensorflowhub",
    "hugging face transformers": "huggingface",
}


# Hugging Face's task categories open every HF domain string ("Natural Language Processing Fill-Mask", ...); they
# place a record whose framework is a third-party library (Joblib, Fairseq, ESPnet) when no file name says its hub.
_HF_DOMAIN_CATEGORIES = (
    "natural language processing", "computer vision", "multimodal", "reinforcement learning", "tabular", "audio",
)


def hub_of(framework: str, api_call: str, source: str, domain: str = "") -> str:
    """Which hub a record belongs to: from its framework, else its file name, else its call, else its domain."""
    key = framework.strip().lower()
    if key in HUB_BY_FRAMEWORK:
        return HUB_BY_FRAMEWORK[key]
    name = source.lower()
    for hub in ("torchhub", "tensorflowhub", "huggingface"):
        if hub in name:
            return hub
    if "hugging face" in key or "transformers" in key:
        return "huggingface"
    if api_call.startswith("torch.hub."):
        return "torchhub"
    if api_call.startswith("hub."):
        return "tensorflowhub"
    if domain.strip().lower().startswith(_HF_DOMAIN_CATEGORIES):
        return "huggingface"
    return "other"


def _text(value: Any) -> str:
    """Flatten any JSON shape to readable text (lists joined by lines, objects as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [s.strip() for s in re.split(r"[,\n]", value) if s.strip()]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [f"{k} {v}".strip() if not isinstance(v, (dict, list)) else str(k) for k, v in value.items()]
    return [str(value)]


def normalise(raw: RawRecord, source: str, line: int, original: dict[str, Any]) -> ApiRecord:
    """Turn one published record into an `ApiRecord`; API Zoo fields fill the APIBench ones."""
    meta = raw.meta_data or raw.metadata or {}
    description = raw.description or _text(meta.get("description"))
    framework = raw.framework or ""
    functionality = _text(raw.functionality)
    api_name = raw.api_name or raw.api_call.split("(", 1)[0]
    example_code = _text(raw.example_code)
    return ApiRecord(
        api_call=raw.api_call.strip(),
        api_name=api_name,
        domain=raw.domain or "",
        framework=framework,
        functionality=functionality,
        description=description or "",
        hub=hub_of(framework, raw.api_call.strip(), source, raw.domain or ""),
        arguments=_text(raw.api_arguments),
        requirements=_strings(
            raw.python_environment_requirements
            if raw.python_environment_requirements is not None
            else raw.env_requirements
        ),
        example_code=example_code,
        performance=parse_performance(raw.performance, description or "", f"{api_name} {raw.api_call}"),
        source=source,
        line=line,
        raw=original,
    )


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _NUMBER.search(value.replace(",", ""))
        if match and len(value.strip()) <= 16:
            return float(match.group())
    return None


def _params_millions(key: str, value: Any) -> float | None:
    number = _number(value)
    if number is None:
        return None
    text = f"{key} {value}".lower()
    if re.search(r"\bb\b|billion|\(b\)|\d\s*b\b", text):
        return number * 1000.0
    if re.search(r"\bk\b|thousand|\(k\)|\d\s*k\b", text):
        return number / 1000.0
    if number > 100_000:
        return number / 1e6
    return number


def _percent(value: float) -> float:
    return value * 100.0 if 0.0 < value <= 1.0 else value


_DESC_PARAMS = re.compile(
    r"(\d+(?:\.\d+)?)\s*(m|million|b|billion|k|thousand)?\s+(?:trainable\s+)?(?:parameters|params)\b", re.I)
_DESC_TOP1 = re.compile(
    r"(?:top-?1 (?:accuracy|acc\.?)|accuracy) of (\d+(?:\.\d+)?)\s*%|(\d+(?:\.\d+)?)\s*% top-?1(?: accuracy)?", re.I)
DATASETS = ("ImageNet", "COCO", "Kinetics", "SQuAD", "CIFAR", "ADE20K", "Cityscapes", "Pascal VOC", "LibriSpeech",
            "Common Voice", "GLUE", "MNLI", "SST-2", "IMDB", "WikiText", "Open Images", "AudioSet", "UCF101", "NYU")


def dataset_in(text: str) -> str | None:
    """The first well-known benchmark dataset a text names (ImageNet, COCO, Kinetics, SQuAD, ...)."""
    lowered = text.lower()
    found = [(lowered.find(d.lower()), d) for d in DATASETS if d.lower() in lowered]
    return min(found)[1] if found else None


def _size_in_id(name: str) -> float | None:
    """Parameters (millions) a model id states as one of its parts (`opt-350m`, `blip2-opt-2.7b`, `m2m100_418M`)."""
    ids = re.findall(r"'([^']+)'", name) or name.split()
    for model_id in ids:
        last = model_id.rstrip("/").rsplit("/", 1)[-1]
        if "autotrain" in last.lower() or "laion" in last.lower():  # numbers there are run ids and data sizes
            continue
        sizes = [t for t in re.split(r"[-_]", last) if re.fullmatch(r"\d+(?:\.\d+)?[mMbB]", t)]
        if len(sizes) == 1:
            number = float(sizes[0][:-1])
            return number * 1000.0 if sizes[0][-1] in "bB" else number
    return None


def _from_text(description: str, name: str) -> dict[str, float | str]:
    """Facts a record states in its model id or in words ("25.6M parameters", "76.1% top-1", "on ImageNet")."""
    facts: dict[str, float | str] = {}
    size = _size_in_id(name)
    stated = {_millions_of(float(m.group(1)), m.group(2)) for m in _DESC_PARAMS.finditer(description)}
    if size is not None:
        facts["params_m"] = size
    elif len(stated) == 1:  # several figures ("from 125M up to 175B parameters") name a family, not this model
        facts["params_m"] = stated.pop()
    tops = {float(m.group(1) or m.group(2)) for m in _DESC_TOP1.finditer(description)}
    if len(tops) == 1:
        facts["top1"] = tops.pop()
    dataset = dataset_in(description)
    if dataset:
        facts["dataset"] = dataset
    return facts


def _millions_of(number: float, scale: str | None) -> float:
    scale = (scale or "").lower()
    if scale in ("b", "billion"):
        return number * 1000.0
    if scale in ("k", "thousand"):
        return number / 1000.0
    if not scale and number > 100_000:
        return number / 1e6
    return number


def parse_performance(performance: Any, description: str = "", name: str = "") -> Performance:
    """Pull parameters (millions), top-1/top-5 accuracy (%) and dataset out of any published shape.

    Top-1 comes from keys such as `top_1`, `top1`, `Top-1 Acc.`, or from `top-1 error` as 100 - error; a bare
    numeric `accuracy` (or a model-named value under an `accuracy` object) counts as top-1 when nothing better is said.
    What the performance field does not say is taken from the description ("25.6M parameters", "76.1% top-1
    accuracy", "trained on ImageNet") and the model id's size (`bloom-560m`, `blip2-opt-2.7b`).
    """
    found: dict[str, float] = {}
    dataset: list[str] = []

    def visit(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                visit(value, path + (str(key),))
            return
        if isinstance(node, list):
            for value in node:
                visit(value, path)
            return
        key = path[-1].lower() if path else ""
        if key in ("dataset", "name") and isinstance(node, str) and node.strip():
            if "dataset" in key or (len(path) >= 2 and path[-2].lower() == "dataset"):
                dataset.append(node.strip())
            return
        if "param" in key:
            params = _params_millions(path[-1], node)
            if params is not None:
                found.setdefault("params_m", params)
            return
        number = _number(node)
        if number is None:
            return
        compact = re.sub(r"[^a-z0-9]", "", key)
        error = "error" in compact or "err" == compact
        for rank, name in (("1", "top1"), ("5", "top5")):
            if compact.startswith(f"top{rank}") or compact.endswith(f"top{rank}") or f"top{rank}acc" in compact or (
                f"top{rank}" in compact and ("acc" in compact or "error" in compact)
            ):
                found.setdefault(name, 100.0 - number if error else _percent(number))
                return
        in_accuracy = any("accuracy" in p.lower() for p in path)
        if not error and (compact == "accuracy" or (in_accuracy and compact not in ("resolution",) and "iou" not in compact
                                                    and "map" not in compact and "recall" not in compact
                                                    and "speed" not in compact and "flop" not in compact)):
            found.setdefault("accuracy", _percent(number))

    visit(performance, ())
    top1 = found.get("top1", found.get("accuracy"))
    text = _from_text(description, name) if description or name else {}
    if top1 is None and isinstance(text.get("top1"), float):
        top1 = float(text["top1"])
    params = found.get("params_m", text.get("params_m"))
    return Performance(
        params_m=round(float(params), 4) if params is not None else None,
        top1=round(top1, 4) if top1 is not None else None,
        top5=round(found["top5"], 4) if "top5" in found else None,
        dataset=dataset[0] if dataset else (str(text["dataset"]) if "dataset" in text else None),
    )
