"""APIBench evaluation: the published AST sub-tree procedure (quirks kept) and a strict one beside it.

`gorilla` reproduces Gorilla's published eval scripts step by step (see ../shared/apibench/README.md), so published
figures can be checked; it is made fast by indexing the database's key values by their rarest 4-gram instead of
testing every record against every answer. `strict` judges the call an answer makes by call identity: the exact
API of the question, else a known API of the same domain, else wrong, or hallucinated when no API has that identity.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
import tree_sitter

from index.answers import parse_answer, question_text
from index.calls import PythonCalls
from index.checker import ApiChecker
from index.database import ApiDatabase
from index.positions import split_lines

Metric = Literal["gorilla", "strict"]
HUB_OF_FILE = (("torchhub", "torchhub"), ("tensorflow", "tensorflowhub"), ("huggingface", "huggingface"))


class EvalError(Exception):
    """A questions or responses file that cannot be read."""


class Question(msgspec.Struct, frozen=True):
    text: str
    api_call: str
    domain: str


class Response(msgspec.Struct, frozen=True):
    question_id: int
    text: str | None


class EvalResult(msgspec.Struct):
    n: int
    accuracy: float
    hallucination: float
    error: float
    metric: str
    seconds: float
    correct: int = 0
    hallucinated: int = 0
    hub: str | None = None
    domain_accuracy: float | None = None
    top5: float | None = None
    verdicts: list[str] | None = None


def _json_lines(path: Path, what: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvalError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from exc
    try:
        lines = split_lines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise EvalError(f"{path}: the {what} file is not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                        f"{exc.start}); expected JSON lines") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path}:{number}:{exc.colno}: invalid JSON in the {what} file: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise EvalError(f"{path}:{number}:1: expected a JSON object per line in the {what} file")
        rows.append(row)
    return rows


def load_questions(path: Path) -> list[Question]:
    """APIBench eval lines: `code` holds the question, `api_data` the reference record."""
    questions: list[Question] = []
    for number, row in enumerate(_json_lines(path, "questions"), 1):
        data = row.get("api_data")
        if not isinstance(data, dict) or not isinstance(row.get("code"), str):
            raise EvalError(f"{path}:{number}:1: a question needs `code` (text) and `api_data` (object)")
        questions.append(
            Question(question_text(row["code"]), str(row.get("api_call") or data.get("api_call", "")),
                     str(data.get("domain", "")))
        )
    return questions


def load_responses(path: Path) -> list[Response]:
    responses: list[Response] = []
    for number, row in enumerate(_json_lines(path, "responses"), 1):
        qid = row.get("question_id")
        if not isinstance(qid, int):
            raise EvalError(f"{path}:{number}:1: `question_id` must be an integer (1-based eval line number)")
        text = row.get("text")
        responses.append(Response(qid, text if isinstance(text, str) else None))
    return responses


def hub_of_path(path: Path, db: ApiDatabase) -> str:
    name = path.name.lower()
    for key, hub in HUB_OF_FILE:
        if key in name:
            return hub
    counts = Counter(r.hub for r in db.records)
    return counts.most_common(1)[0][0] if counts else "huggingface"


# --- The published procedure -------------------------------------------------------------------------------------

def cut_api_call(text: str, hub: str) -> str | None:
    """Step 1 of the published procedure; None where TorchHub scores the answer as neither correct nor invented."""
    parts = text.split("api_call")
    if len(parts) == 1:
        return None if hub == "torchhub" else text
    part = parts[1].split("api_provider")[0]
    start = part.index(":") if ":" in part else 0
    end = part.rindex(")") if ")" in part else -2
    return part[start + 2 : end + 1]


def _subtrees(root: tree_sitter.Node) -> tuple[dict[bytes, tree_sitter.Node], tree_sitter.Node]:
    """Step 3: the first subtree (stack walk order) for each head, and the last subtree of the walk."""
    first: dict[bytes, tree_sitter.Node] = {}
    stack = [root]
    last = root
    while stack:
        node = stack.pop()
        last = node
        children = node.children
        if children:
            head = children[0].text or b""
            if head not in first:
                first[head] = node
            stack.extend(c for c in children if c.child_count)
    return first, last


def _key_values(call: tree_sitter.Node, hub: str) -> list[bytes] | None:
    """Step 5: the record's key values from its call's argument children; None when the record is skipped."""
    if call.child_count < 2:
        return None
    values: list[bytes] = []
    for child in call.children[1].children:
        text = child.text or b""
        if hub == "torchhub":
            if b"repo_or_dir" in text or b"model" in text:
                if child.child_count > 2:
                    values.append(child.children[2].text or b"")
        elif hub == "tensorflowhub" and (b"model=" in text or b"model =" in text):
            if child.child_count > 2:
                values.append(child.children[2].text or b"")
        elif hub == "huggingface" and b"=" in text:
            if child.child_count > 2:
                values.append(child.children[2].text or b"")
        elif text not in (b"(", b")", b","):
            values.append(text)
    return values


class _RecordKey(msgspec.Struct):
    index: int
    head: bytes
    values: tuple[str, ...]


class GorillaMetric:
    """The published AST sub-tree matching, record order and the fallback subtree included."""

    def __init__(self, api_calls: Sequence[str], domains: Sequence[str], hub: str, parser: PythonCalls) -> None:
        self.hub = hub
        self.domains = list(domains)
        self.parser = parser
        self.keys: list[_RecordKey] = []
        for index, api_call in enumerate(api_calls):
            root = parser.parse(api_call).root_node
            if not root.children or not root.children[0].children:
                continue
            call = root.children[0].children[0]
            if call.child_count == 0:
                continue
            values = _key_values(call, hub)
            if not values:
                continue
            head = call.children[0].text or b""
            stripped = tuple(v.decode("utf-8", "replace").lstrip("'").rstrip("'") for v in values)
            self.keys.append(_RecordKey(index, head, stripped))
        self.head_set = frozenset(k.head for k in self.keys)
        self._build_anchor_index()

    def _build_anchor_index(self) -> None:
        grams: Counter[str] = Counter()
        values = sorted({v for k in self.keys for v in k.values})
        for value in values:
            grams.update({value[i : i + 4] for i in range(len(value) - 3)})
        self.short_values = [v for v in values if len(v) < 4]
        self.anchors: dict[str, list[str]] = {}
        for value in values:
            if len(value) >= 4:
                anchor = min((value[i : i + 4] for i in range(len(value) - 3)), key=lambda g: (grams[g], g))
                self.anchors.setdefault(anchor, []).append(value)
        self.records_with: dict[str, list[_RecordKey]] = {}
        for key in self.keys:
            for value in set(key.values):
                self.records_with.setdefault(value, []).append(key)

    def _present(self, text: str) -> set[str]:
        present = {v for v in self.short_values if v in text}
        for i in range(len(text) - 3):
            for value in self.anchors.get(text[i : i + 4], ()):
                if value in text:
                    present.add(value)
        return present

    def match(self, candidate: str) -> int:
        """Step 4-5: the index of the first record that matches the candidate call, or -1."""
        first, last = _subtrees(self.parser.parse(candidate).root_node)
        fallback = (last.text or b"").decode("utf-8", "replace")
        # Heads the candidate has use their own subtree; every other head falls back to the last subtree.
        own = {h: (first[h].text or b"").decode("utf-8", "replace") for h in self.head_set.intersection(first)}
        best = -1
        for text in {fallback, *own.values()}:
            present = self._present(text)
            for value in present:
                for key in self.records_with[value]:
                    if (best < 0 or key.index < best) and own.get(key.head, fallback) == text and all(
                        v in present for v in key.values
                    ):
                        best = key.index
        return best

    def score(self, text: str | None, domain: str) -> str:
        """'correct', 'error', 'hallucination' or 'skipped' (not counted as either, as published)."""
        if text is None:
            return "skipped"
        candidate = cut_api_call(text, self.hub)
        if candidate is None:
            return "skipped"
        index = self.match(candidate)
        if index < 0:
            return "hallucination"
        return "correct" if self.domains[index] == domain else "error"


# --- The strict procedure ----------------------------------------------------------------------------------------

class StrictMetric:
    """Call identity instead of substrings: the exact API is correct; any other known API is wrong."""

    def __init__(self, db: ApiDatabase, checker: ApiChecker | None = None) -> None:
        self.db = db
        self.checker = checker or ApiChecker(db)

    def api_of(self, code: str) -> tuple[str, int | None]:
        """('known', api) / ('hallucinated', None) / ('none', None) for the first loader call in `code`."""
        verbatim = self.db.by_identity.get(" ".join(code.split()))
        if verbatim is not None:  # a record's own call that names no hub id (`tf.keras.Sequential([...])`)
            return "known", verbatim
        for finding in self.checker.findings(code, alternatives=False):
            verdict = finding.verdict
            return ("known", verdict.api) if verdict.status == "known" else ("hallucinated", None)
        return "none", None

    def reference_api(self, question: Question) -> int | None:
        return self.api_of(question.api_call)[1]

    def score(self, text: str | None, question: Question) -> str:
        if text is None:
            return "error"
        call = parse_answer(text).api_call
        status, api = self.api_of(call)
        if status == "hallucinated" or (status == "none" and call.strip()):
            # An answer whose call loads no API of the database (`image_features`, a made-up helper) invents one.
            return "hallucination"
        if api is None:
            return "error"
        reference = self.reference_api(question)
        if reference is not None and api == reference:
            return "correct"
        return "domain" if self.db.apis[api].domain == question.domain else "error"


class Evaluator:
    """Scores responses against one database; the metrics' indexes are built once and reused across files."""

    def __init__(self, db: ApiDatabase, hub: str) -> None:
        self.db = db
        self.hub = hub
        self._gorilla: GorillaMetric | None = None
        self._strict: StrictMetric | None = None

    @property
    def gorilla(self) -> GorillaMetric:
        if self._gorilla is None:
            records = self.db.records
            self._gorilla = GorillaMetric([r.api_call for r in records], [r.domain for r in records], self.hub,
                                          self.db.parser)
        return self._gorilla

    @property
    def strict(self) -> StrictMetric:
        if self._strict is None:
            self._strict = StrictMetric(self.db)
        return self._strict

    def verdict(self, metric: Metric, text: str | None, question: Question) -> str:
        if metric == "gorilla":
            return self.gorilla.score(text, question.domain)
        return self.strict.score(text, question)

    def run(
        self,
        questions: Sequence[Question],
        responses: Iterable[Response],
        metric: Metric,
        progress: Callable[[int], None] | None = None,
        keep_verdicts: bool = False,
    ) -> EvalResult:
        """Score responses; accuracy and hallucination are fractions of all responses, as published."""
        started = time.perf_counter()
        responses = list(responses)
        counts: Counter[str] = Counter()
        verdicts: list[str] = []
        for done, response in enumerate(responses, 1):
            if not 1 <= response.question_id <= len(questions):
                raise EvalError(f"question_id {response.question_id} is outside the {len(questions)} questions")
            verdict = self.verdict(metric, response.text, questions[response.question_id - 1])
            counts[verdict] += 1
            if keep_verdicts:
                verdicts.append(verdict)
            if progress is not None:
                progress(done)
        n = len(responses)
        correct = counts["correct"]
        hallucinated = counts["hallucination"]
        return EvalResult(
            n=n,
            accuracy=correct / n if n else 0.0,
            hallucination=hallucinated / n if n else 0.0,
            error=(counts["error"] + counts["domain"]) / n if n else 0.0,
            metric=metric,
            seconds=round(time.perf_counter() - started, 4),
            correct=correct,
            hallucinated=hallucinated,
            hub=self.hub,
            domain_accuracy=(correct + counts["domain"]) / n if metric == "strict" and n else None,
            verdicts=verdicts if keep_verdicts else None,
        )
