"""APIBench evaluation: the published AST sub-tree procedure (quirks kept) and a strict one beside it.

`gorilla` reproduces Gorilla's published eval scripts step by step (see ../shared/apibench/README.md), so published
figures can be checked; it is made fast by indexing the database's key values by their rarest 4-gram instead of
testing every record against every answer. `strict` judges the call an answer makes by call identity: the exact
API of the question, else a known API of the same domain, else wrong, or hallucinated when no API has that identity.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
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
from index.records import hub_of

Metric = Literal["gorilla", "strict"]
HUB_OF_FILE = (("torchhub", "torchhub"), ("tensorflow", "tensorflowhub"), ("huggingface", "huggingface"))


class EvalError(Exception):
    """A questions or responses file that cannot be read."""


class Question(msgspec.Struct, frozen=True):
    text: str
    api_call: str
    domain: str
    hub: str = ""  # of the reference record (its framework, else the file name)


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
    questions: str | None = None
    responses: str | None = None  # None: our own engine answered


def _decode_line(line: str) -> Any:
    """msgspec's decoder (several times faster); json's when the line is bad, for its line and column."""
    try:
        return msgspec.json.decode(line)
    except msgspec.DecodeError:
        return json.loads(line)


def _json_lines(path: Path, what: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvalError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EvalError(f"{path}:{line}:{column}: the {what} file is not UTF-8 text (byte {data[exc.start]:#04x} at "
                        f"offset {exc.start}); expected JSON lines") from None
    lines = split_lines(text)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = _decode_line(line)
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
        api_call = str(row.get("api_call") or data.get("api_call", ""))
        domain = str(data.get("domain", ""))
        hub = hub_of(str(data.get("framework") or ""), api_call.strip(), path.name, domain)
        questions.append(Question(question_text(row["code"]), api_call, domain, hub))
    return questions


def questions_hub(questions: Sequence[Question], path: Path, db: ApiDatabase) -> str:
    """The hub whose procedure scores these questions: their reference records' hub, else the file name."""
    counts = Counter(q.hub for q in questions if q.hub != "other")
    return counts.most_common(1)[0][0] if counts else hub_of_path(path, db)


# Response files are named `<hub>_<model>_<run>.jsonl` (`tensorflowhub_Gorilla_FT_0_shot.jsonl`).
QUESTIONS_OF_PREFIX = (
    ("torchhub", "torchhub_eval.json"), ("huggingface", "huggingface_eval.json"),
    ("tensorflowhub", "tensorflow_eval.json"), ("tensorflow", "tensorflow_eval.json"),
)


def questions_file_for(responses: Path, folders: Sequence[Path]) -> Path:
    """The eval file that a responses file answers, found by the hub prefix of its name in `folders`."""
    name = responses.name.lower()
    wanted = next((q for prefix, q in QUESTIONS_OF_PREFIX if name.startswith(prefix)), None)
    if wanted is None:
        raise EvalError(
            f"{responses}: cannot tell which questions it answers: start its name with torchhub_, huggingface_ or "
            f"tensorflowhub_, or give it as QUESTIONS=RESPONSES"
        )
    for folder in folders:
        if (folder / wanted).is_file():
            return folder / wanted
    looked = ", ".join(str(f) for f in folders) or "(no folder)"
    raise EvalError(f"{responses}: no {wanted} in {looked}: pass --questions FILE_OR_DIR or QUESTIONS=RESPONSES")


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
        self._matched: dict[str, int] = {}
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
        self.anchor_keys = frozenset(self.anchors)
        self.records_with: dict[str, list[_RecordKey]] = {}
        for key in self.keys:
            for value in set(key.values):
                self.records_with.setdefault(value, []).append(key)

    def _present(self, text: str) -> set[str]:
        """Every key value that occurs in `text`: its rarest 4-gram must, so only those are tested."""
        present = {v for v in self.short_values if v in text}
        grams = {text[i : i + 4] for i in range(len(text) - 3)}
        for gram in grams & self.anchor_keys:
            for value in self.anchors[gram]:
                if value in text:
                    present.add(value)
        return present

    def match(self, candidate: str) -> int:
        """Step 4-5: the index of the first record that matches the candidate call, or -1.

        Answers repeat across runs (5,143 distinct calls in the 14,012 answers of the 24 published files), so
        verdicts are kept per candidate text.
        """
        best = self._matched.get(candidate)
        if best is None:
            best = self._matched[candidate] = self._match(candidate)
        return best

    def prime(self, candidates: Iterable[str], processes: int = 1) -> None:
        """Match many candidates ahead of scoring, split over `processes` forked workers (Linux), which share the
        indexes built here instead of rebuilding them; verdicts are the same as one by one."""
        todo = [c for c in dict.fromkeys(candidates) if c not in self._matched]
        workers = min(processes, len(todo) // 250) if sys.platform.startswith("linux") else 1
        if workers < 2:
            self._matched.update((c, self._match(c)) for c in todo)
            return
        context = multiprocessing.get_context("fork")
        chunks = [todo[i::workers] for i in range(workers)]
        children = []
        for chunk in chunks[1:]:
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=self._match_into, args=(chunk, send), daemon=True)
            child.start()
            send.close()
            children.append((chunk, receive, child))
        self._matched.update((c, self._match(c)) for c in chunks[0])
        for chunk, receive, child in children:
            try:
                self._matched.update(zip(chunk, receive.recv()))
            except EOFError:  # the worker died: do its share here
                self._matched.update((c, self._match(c)) for c in chunk)
            child.join()

    def _match_into(self, chunk: list[str], send: Any) -> None:
        send.send([self._match(c) for c in chunk])
        send.close()

    def _match(self, candidate: str) -> int:
        # Every subtree is a substring of the candidate, so only records whose key values all occur in the whole
        # text can match; when there is none, the parse is not needed.
        present = self._present(candidate)
        possible = sorted(
            {key.index: key for value in present for key in self.records_with[value]
             if all(v in present for v in key.values)}.values(),
            key=lambda key: key.index,
        )
        if not possible:
            return -1
        first, last = _subtrees(self.parser.parse(candidate).root_node)
        fallback = (last.text or b"").decode("utf-8", "replace")
        # A record whose head the candidate has is tested on that subtree; any other on the last subtree.
        own: dict[bytes, str] = {}
        for key in possible:  # record order: the first match wins
            if key.head in first and key.head not in own:
                own[key.head] = (first[key.head].text or b"").decode("utf-8", "replace")
            text = own.get(key.head, fallback)
            if all(v in text for v in key.values):
                return key.index
        return -1

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
        self._api_of: dict[str, tuple[str, int | None]] = {}  # reference calls and answers repeat across files

    def api_of(self, code: str) -> tuple[str, int | None]:
        """('known', api) / ('hallucinated', None) / ('none', None) for the first loader call in `code`."""
        found = self._api_of.get(code)
        if found is None:
            found = self._api_of[code] = self._find_api(code)
        return found

    def _find_api(self, code: str) -> tuple[str, int | None]:
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
        self.all = db
        self.hub = hub
        self.records = [r for r in db.records if r.hub == hub]  # in file order, duplicates included
        if not self.records:
            raise EvalError(f"the API database ({', '.join(db.files) or 'no file'}) holds no {hub} record to score "
                            f"{hub} answers against: add that hub's API file (`gorilla-lsp index pull` has all three)")
        self._gorilla: GorillaMetric | None = None
        self._strict: StrictMetric | None = None

    @property
    def db(self) -> ApiDatabase:
        """The database of the hub's records alone (built when the strict metric first needs it)."""
        return self.all.for_hub(self.hub)

    @property
    def gorilla(self) -> GorillaMetric:
        if self._gorilla is None:
            self._gorilla = GorillaMetric([r.api_call for r in self.records], [r.domain for r in self.records],
                                          self.hub, self.all.parser)
        return self._gorilla

    @property
    def strict(self) -> StrictMetric:
        if self._strict is None:
            self._strict = StrictMetric(self.db)
        return self._strict

    def prime(self, responses: Iterable[Response], processes: int = 1) -> None:
        """Match every answer's call ahead of `run` (the published metric), in parallel when asked."""
        texts = (r.text for r in responses if r.text is not None)
        self.gorilla.prime((c for c in (cut_api_call(t, self.hub) for t in texts) if c is not None), processes)

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
