"""Constraint-aware ranking: "fewer than 10M parameters but at least 70% ImageNet accuracy".

Numeric limits on parameters and accuracy are parsed from the request as people write them; records that satisfy
them rank first (by the database's own performance facts), records that do not say come next, marked unknown, and
records that break a limit come last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import msgspec

from index.records import Performance, dataset_in

Preference = Literal["smallest", "most_accurate"]
Status = Literal["met", "unknown", "violated", "none"]

_NUM = r"(\d+(?:\.\d+)?)"
_SCALE = r"\s*(k|thousand|m|mil|million|millions|b|bn|billion)?"
_LESS = r"(?:under|below|less than|fewer than|at most|no more than|smaller than|max(?:imum)?(?: of)?|up to|<=?|≤|within)"
_MORE = r"(?:at least|above|over|more than|greater than|min(?:imum)?(?: of)?|>=?|≥|no less than|better than|exceeding)"
_PARAMS = r"\s*(?:parameters|params|param|weights)"
_ACC = r"\s*(?:%|percent|per cent)"
_PARAM_LIMIT = re.compile(rf"(?P<op>{_LESS}|{_MORE})\s*{_NUM}{_SCALE}{_PARAMS}", re.I)
_PARAM_AFTER = re.compile(rf"(?:parameters|params)\s*(?:count\s*)?(?:of\s*)?(?P<op>{_LESS}|{_MORE})\s*{_NUM}{_SCALE}", re.I)
_ACC_LIMIT = re.compile(
    rf"(?P<op>{_LESS}|{_MORE})\s*{_NUM}{_ACC}(?P<tail>[^,.;]{{0,40}})", re.I
)
_ACC_BEFORE = re.compile(
    rf"(?P<what>top[- ]?(?:1|5)|accuracy)[^,.;\d]{{0,25}}?(?P<op>{_LESS}|{_MORE})\s*{_NUM}\s*(?:%|percent)?", re.I
)
_SMALLEST = re.compile(r"\b(smallest|tiniest|lightest|lightweight|fewest parameters|most compact|tiny)\b", re.I)
_MOST_ACCURATE = re.compile(r"\b(most accurate|highest accuracy|best accuracy|best[- ]performing|state[- ]of[- ]the[- ]art)\b", re.I)


class Constraints(msgspec.Struct, frozen=True, omit_defaults=True):
    max_params_m: float | None = None
    min_params_m: float | None = None
    min_top1: float | None = None
    min_top5: float | None = None
    max_top1: float | None = None
    prefer: Preference | None = None
    dataset: str | None = None  # a benchmark the request names: the record's must be it

    def empty(self) -> bool:
        return self == Constraints()

    def describe(self) -> str:
        parts = []
        if self.max_params_m is not None:
            parts.append(f"params <= {self.max_params_m:g}M")
        if self.min_params_m is not None:
            parts.append(f"params >= {self.min_params_m:g}M")
        if self.min_top1 is not None:
            parts.append(f"top-1 >= {self.min_top1:g}%")
        if self.max_top1 is not None:
            parts.append(f"top-1 <= {self.max_top1:g}%")
        if self.min_top5 is not None:
            parts.append(f"top-5 >= {self.min_top5:g}%")
        if self.prefer:
            parts.append(self.prefer.replace("_", " "))
        if self.dataset:
            parts.append(f"on {self.dataset}")
        return ", ".join(parts)


class ConstraintCheck(msgspec.Struct, frozen=True, omit_defaults=True):
    """How one record stands against the request's constraints (what the editor shows beside a suggestion)."""

    status: Status
    met: list[str] = []
    unknown: list[str] = []
    violated: list[str] = []


def _millions(number: float, scale: str | None) -> float:
    scale = (scale or "m").lower()
    if scale in ("k", "thousand"):
        return number / 1000.0
    if scale in ("b", "bn", "billion"):
        return number * 1000.0
    return number


def _is_less(op: str) -> bool:
    return re.fullmatch(_LESS, op.strip(), re.I) is not None


def parse_constraints(request: str) -> Constraints:
    """Numeric limits and preferences stated in a request; an empty `Constraints` when there are none."""
    values: dict[str, float | str] = {}
    for match in list(_PARAM_LIMIT.finditer(request)) + list(_PARAM_AFTER.finditer(request)):
        op, number, scale = match.group("op"), float(match.group(2)), match.group(3)
        key = "max_params_m" if _is_less(op) else "min_params_m"
        values.setdefault(key, _millions(number, scale))
    for match in _ACC_LIMIT.finditer(request):
        op, number, tail = match.group("op"), float(match.group(2)), match.group("tail").lower()
        if re.search(r"param", tail):
            continue
        before = request[max(0, match.start() - 30) : match.start()].lower()
        top5 = re.search(r"top[- ]?5", tail) is not None or (
            re.search(r"top[- ]?5", before) is not None and re.search(r"top[- ]?1", tail) is None
        )
        if _is_less(op):
            values.setdefault("max_top1", number)
        else:
            values.setdefault("min_top5" if top5 else "min_top1", number)
    for match in _ACC_BEFORE.finditer(request):
        what, op, number = match.group("what").lower(), match.group("op"), float(match.group(3))
        top5 = "5" in what
        if _is_less(op):
            values.setdefault("max_top1", number)
        else:
            values.setdefault("min_top5" if top5 else "min_top1", number)
    dataset = dataset_in(request)
    if dataset is not None:
        values["dataset"] = dataset
    if _SMALLEST.search(request):
        values["prefer"] = "smallest"
    elif _MOST_ACCURATE.search(request):
        values["prefer"] = "most_accurate"
    return msgspec.convert(values, Constraints)


def strip_constraints(request: str) -> str:
    """The request without its constraint phrases: "under 10M parameters" says nothing about what the API does."""
    text = request
    for pattern in (_PARAM_LIMIT, _PARAM_AFTER, _ACC_BEFORE, _ACC_LIMIT):
        text = pattern.sub(" ", text)
    text = re.sub(r"\b(but|and|with)\s*(?=[,.;]|$)", " ", text)
    return " ".join(text.split())


def check(constraints: Constraints, performance: Performance) -> ConstraintCheck:
    if constraints.empty():
        return ConstraintCheck("none")
    met: list[str] = []
    unknown: list[str] = []
    violated: list[str] = []

    def test(label: str, value: float | None, limit: float | None, less: bool, unit: str) -> None:
        if limit is None:
            return
        label = f"{label} {'<=' if less else '>='} {limit:g}{unit}"
        if value is None:
            unknown.append(label)
        elif (value <= limit) if less else (value >= limit):
            met.append(f"{label} ({value:g})")
        else:
            violated.append(f"{label} ({value:g})")

    test("params", performance.params_m, constraints.max_params_m, True, "M")
    test("params", performance.params_m, constraints.min_params_m, False, "M")
    test("top-1", performance.top1, constraints.min_top1, False, "%")
    test("top-1", performance.top1, constraints.max_top1, True, "%")
    test("top-5", performance.top5, constraints.min_top5, False, "%")
    if constraints.dataset is not None:
        label = f"dataset {constraints.dataset}"
        if performance.dataset is None:
            unknown.append(label)
        elif constraints.dataset.lower() in performance.dataset.lower():
            met.append(label)
        else:
            violated.append(f"{label} ({performance.dataset})")
    if constraints.prefer == "smallest" and performance.params_m is None:
        unknown.append("size")
    if constraints.prefer == "most_accurate" and performance.top1 is None:
        unknown.append("accuracy")
    status: Status = "violated" if violated else "unknown" if unknown else "met"
    return ConstraintCheck(status, met, unknown, violated)


_ORDER = {"met": 0, "none": 0, "unknown": 1, "violated": 2}


def rank(
    items: Sequence[tuple[int, float, Performance]], constraints: Constraints
) -> list[tuple[int, float, ConstraintCheck]]:
    """Reorder (api, score, performance) retrieval hits: satisfied first, unknown next, violated last.

    Within a group retrieval order is kept, except that a preference ("smallest", "most accurate") sorts the
    records that state the value by it.
    """
    checked = [(api, score, perf, check(constraints, perf)) for api, score, perf in items]

    def key(entry: tuple[int, float, Performance, ConstraintCheck]) -> tuple[float, ...]:
        _, _, perf, result = entry
        group = _ORDER[result.status]
        if constraints.prefer == "smallest" and perf.params_m is not None:
            return (group, 0, perf.params_m)
        if constraints.prefer == "most_accurate" and perf.top1 is not None:
            return (group, 0, -perf.top1)
        return (group, 1 if constraints.prefer else 0, 0)

    checked.sort(key=key)  # stable: within a group the caller's order (relevance) is kept
    return [(api, score, result) for api, score, _, result in checked]
