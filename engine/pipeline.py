"""The completion pipeline: request -> constraints + retrieval -> (model candidates) -> AST check -> suggestions.

Without a model it is the retrieval engine: it only ever suggests calls from the database, so it cannot invent one.
With a model, every generated call is checked against the database before anyone sees it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec
import numpy as np

from engine.requests import RequestKind, classify_form, code_words, explicit_ask
from index.answers import parse_answer
from index.api_index import ApiIndex
from index.cancel import checkpoint
from index.constraints import ConstraintCheck, Constraints, check, parse_constraints, rank, strip_constraints
from index.evaluation import Question, Response, StrictMetric
from index.repair import short_label
from index.retrieval import tokenize
from index.router import Routing

if TYPE_CHECKING:
    from index.checker import HubCheck
    from index.hubs import Target

# The relevance floor: a request whose best task has less evidence than this (phrases + meaning, not retrieval's
# vote, which always finds something) asks for nothing the database serves. Evidence loses CODE_PENALTY per word of
# code machinery and, with the encoder, NOTE_WEIGHT per unit by which the comment is closer to a note about code than
# to a task (less NOTE_MARGIN). Set on the dev split of tests/data/comments.jsonl, maximising the share of real
# comments left silent plus the share of written requests answered (benchmarks/requests.py reports the held-out
# split); with BM25 alone the evidence is the task's phrases and the direction only, hence a lower floor.
RELEVANCE_FLOOR = 2.0
RELEVANCE_FLOOR_BM25 = 1.0
ASK_FLOOR = 0.5  # a request that says it wants something ("we need a model that ...") needs only some evidence
CODE_PENALTY = 2.0
NOTE_WEIGHT = 20.0
NOTE_MARGIN = 0.1

# Words a model id shares with its data's name that say what it does, not what it is about.
_GENERIC_SUBJECTS = frozenset({"segmentation", "detection", "classification", "object", "image", "dataset", "data",
                               "finetuned", "model", "base", "large", "small", "text", "speech", "audio"})

Source = Literal["model", "retrieval"]
# Real calls first (the database's, then those a hub confirms), calls nobody could check next, invented ones last.
VERDICT_ORDER = {"known": 0, "exists": 1, "unverified": 2, "hallucinated": 3}
HallucinatedPolicy = Literal["warn", "hide"]

_BOILERPLATE = re.compile(
    r"^\s*(?:(?:hey|hi|please|kindly)[,\s]+)?(?:(?:i|we)\s+(?:need|want|would like|am looking for|are looking for)"
    r"(?:\s+(?:an?|the|some))?\s+(?:api|model|way)\s+(?:that|which|to)\s+(?:can\s+)?"
    r"|(?:can|could)\s+you\s+(?:please\s+)?(?:provide|give|suggest|recommend|find)(?:\s+me)?(?:\s+with)?\s+(?:an?\s+)?"
    r"(?:api|model)\s+(?:that|which|to)\s+(?:can\s+)?"
    r"|what\s+(?:is|would be)\s+(?:an?|the)\s+(?:api|model)\s+(?:that|which|to)\s+(?:can\s+)?)",
    re.I,
)
_COMMENT_MARKER = re.compile(r"^\s*(?:#+|//+|--|\"\"\"|''')\s?", re.M)


def clean_request(text: str) -> str:
    """A comment (or a wordy question) as a request: markers and boilerplate openings removed."""
    text = _COMMENT_MARKER.sub("", text)
    text = " ".join(text.split())
    return _BOILERPLATE.sub("", text).strip()


def request_relevance(routing: Routing, query: str) -> float:
    """The evidence that `query` asks for its best task, less what says it is a note about the code around it."""
    return (routing.evidence - CODE_PENALTY * code_words(query)
            - NOTE_WEIGHT * max(0.0, routing.note + NOTE_MARGIN))


class EngineInfo(msgspec.Struct, omit_defaults=True):
    backend: str
    retriever: str | None = None
    device: str | None = None
    compute_type: str | None = None
    model: str | None = None
    apis: int | None = None
    state: str | None = None
    message: str | None = None


class Suggestion(msgspec.Struct, omit_defaults=True):
    api_call: str  # the call as inserted: the record's, repaired so that it runs (index.repair)
    api_name: str
    domain: str
    framework: str
    verdict: str  # known | exists (on its hub, not in the database) | unverified | hallucinated
    source: Source
    score: float
    constraints: ConstraintCheck
    hub: str = ""
    api: int | None = None  # index into the database's APIs; None for a hallucinated call
    alternatives: list[str] = []
    task: str = ""
    label: str = ""  # the model id or entrypoint: what names the suggestion in a list
    imports: list[str] = []  # import lines the call needs
    placeholders: list[str] = []  # names (or strings) in the call the user must fill in
    evidence: str = ""  # for a generated call the database lacks: what its hub said (or that nobody has asked it)


class CompletionResult(msgspec.Struct):
    engine: EngineInfo
    request: str
    constraints: Constraints
    suggestions: list[Suggestion]
    seconds: float
    kind: RequestKind = RequestKind("request")
    tasks: list[str] = []  # the tasks the suggestions were drawn from, best first


class CandidateSource(Protocol):
    """What the pipeline needs from a model engine (engine.generator.GorillaGenerator satisfies it)."""

    def info(self) -> EngineInfo: ...

    def candidates(
        self, request: str, documents: Sequence[dict[str, Any]], n: int, cancelled: Callable[[], bool] | None
    ) -> list[str]: ...


class CompletionPipeline:
    """Suggestions for one request against one `ApiIndex` snapshot, optionally with a model."""

    def __init__(self, index: ApiIndex, model: CandidateSource | None = None) -> None:
        self.index = index
        self.model = model
        self._subjects: dict[int, frozenset[str]] = {}

    def info(self) -> EngineInfo:
        if self.model is not None:
            info = self.model.info()
            info.apis = len(self.index.db.apis)
            return info
        return EngineInfo(backend="retrieval", retriever=self.index.retriever.name, apis=len(self.index.db.apis))

    def complete(
        self,
        text: str,
        n: int = 5,
        top_k: int = 5,
        hub: str | None = None,
        hub_filter: bool = False,
        hallucinated: HallucinatedPolicy = "warn",
        cancelled: Callable[[], bool] | None = None,
        detect: bool = True,
        hubs: HubCheck | None = None,
    ) -> CompletionResult:
        """Suggestions for a comment or request: nothing when it asks for nothing (its `kind` says why).

        `detect=False` skips the request classifier and the relevance floor, for text known to be a request (the
        evaluation's questions); routing and ranking are the same. `hubs`: a generated call the database lacks is
        judged from what its hub has answered (never waiting on the network: `pending` lists what to ask).
        """
        started = time.perf_counter()
        request = clean_request(text)
        constraints = parse_constraints(request)
        kind = classify_form(request) if detect else RequestKind("request")

        def finish(suggestions: list[Suggestion], kind: RequestKind, tasks: list[str]) -> CompletionResult:
            return CompletionResult(self.info(), request, constraints, suggestions,
                                    round(time.perf_counter() - started, 6), kind, tasks)

        if not kind.is_request:
            return finish([], kind, [])
        query = request if constraints.empty() else strip_constraints(request) or request
        routing, order = self.rank_apis(query, constraints, hub, hub_filter, explicit_ask(text), detect, cancelled)
        checkpoint(cancelled)
        if routing is None:
            return finish([], RequestKind("not-relevant", "no API in the database is relevant enough"), [])
        apis = self.index.db.apis
        ranked = rank([(api, score, apis[api].performance) for api, score in order], constraints)
        suggestions: list[Suggestion] = []
        seen: set[Any] = set()
        if self.model is not None and request:
            documents = [apis[api].document() for api, _, _ in ranked[:top_k]]
            candidates = self.model.candidates(request, documents, n, cancelled)
            checkpoint(cancelled)  # a generation stopped by the token returns what it had: nobody wants it
            for text_out in candidates:
                suggestion = self._from_model(text_out, constraints, hubs)
                if suggestion is None or (suggestion.verdict == "hallucinated" and hallucinated == "hide"):
                    continue
                key = suggestion.api if suggestion.api is not None else suggestion.api_call
                if key not in seen:
                    seen.add(key)
                    suggestions.append(suggestion)
            # The model's known calls first, those that break a constraint after the others.
            suggestions.sort(key=lambda s: (VERDICT_ORDER[s.verdict], s.constraints.status == "violated"))
        for api, score, result in ranked:
            if len(suggestions) >= n:
                break
            if api in seen:
                continue
            seen.add(api)
            suggestions.append(self._known(api, "retrieval", score, result))
        # Invented calls (kept, with their verdict, when the setting says so) go after every real one.
        suggestions = sorted(suggestions[:n], key=lambda s: VERDICT_ORDER[s.verdict])
        return finish(suggestions, kind, routing.routed)

    def pending(self, result: CompletionResult, hubs: HubCheck) -> list[Target]:
        """What the hubs would have to be asked to settle the generated calls still unverified."""
        targets: dict[str, Target] = {}
        for s in result.suggestions:
            if s.source == "model" and s.verdict == "unverified":
                for finding in self.index.checker.findings(s.api_call, hubs=hubs):
                    target = finding.verdict.target
                    if finding.verdict.pending and target is not None:
                        targets[target.key] = target
        return list(targets.values())

    def rejudge(self, result: CompletionResult, hubs: HubCheck,
                hallucinated: HallucinatedPolicy = "warn") -> CompletionResult:
        """The result with its unverified generated calls judged again from what the hubs have answered since."""
        suggestions = []
        for s in result.suggestions:
            if s.source == "model" and s.verdict == "unverified":
                s = self._from_model(s.api_call, result.constraints, hubs) or s
                if s.verdict == "hallucinated" and hallucinated == "hide":
                    continue
            suggestions.append(s)
        suggestions.sort(key=lambda s: VERDICT_ORDER[s.verdict])
        return msgspec.structs.replace(result, suggestions=suggestions)

    def rank_apis(
        self, query: str, constraints: Constraints, hub: str | None = None, hub_filter: bool = False,
        asked: bool = False, floor: bool = True, cancelled: Callable[[], bool] | None = None,
    ) -> tuple[Routing | None, list[tuple[int, float]]]:
        """Task first, then the APIs of the routed tasks, by retrieval; (None, []) below the relevance floor.

        A hub the file imports only breaks near-ties within the task: it never brings in another task's API, nor a
        clearly less relevant one. A dataset the request names must be the record's (ImageNet is not Kinetics).
        """
        index = self.index
        retriever = index.retriever
        scores = retriever.scores(query, cancelled)
        if not scores.size:
            return None, []
        allowed = ~index.db.unsuggestable
        if hub is not None and hub_filter:
            allowed = allowed & retriever.hub_mask(hub)
        vector = index.dense.query_vector(query) if index.dense is not None else None
        routing = index.router.route(query, scores, allowed, vector)
        best = routing.best
        minimum = ASK_FLOOR if asked else RELEVANCE_FLOOR if index.dense is not None else RELEVANCE_FLOOR_BM25
        if best is None or (floor and request_relevance(routing, query) < minimum):
            return None, []
        task_rank = {task: i for i, task in enumerate(routing.routed)}
        candidates = [
            int(api) for task in routing.routed for api in index.router.task_apis[task] if allowed[api]
        ]
        if not candidates:
            return None, []
        values = scores[candidates].astype(np.float64)
        top, bottom = float(values.max()), float(values.min())
        relevance = (values - bottom) / ((top - bottom) or 1.0)  # 0..1 within the routed tasks
        if hub is not None and not hub_filter:
            in_hub = retriever.hub_mask(hub)[candidates]
            relevance = relevance + 0.15 * in_hub  # a near-tie only
        dataset = constraints.dataset.lower() if constraints.dataset else None
        if dataset is None and (constraints.min_top1 is not None or constraints.min_top5 is not None):
            dataset = "imagenet"  # top-1/top-5 figures are ImageNet's unless the request names another benchmark
        asked_words = set(tokenize(query))
        order: list[tuple[tuple[float, ...], int, float]] = []
        for api, rel, raw in zip(candidates, relevance, values):
            task = index.router.api_task[api]
            # A model made for one subject (building segmentation, pothole detection) comes after the general models
            # of its task unless the request names that subject.
            subject = self._subject(api)
            specialised = 1 if subject and not subject & asked_words else 0
            key: tuple[float, ...] = (task_rank[task], specialised, -float(rel))
            if dataset is not None:
                known = index.db.apis[api].performance.dataset
                key = (0 if known and dataset in known.lower() else 1 if not known else 2, *key)
            order.append((key, api, float(raw)))
        order.sort(key=lambda entry: entry[0])
        return routing, [(api, raw) for _, api, raw in order]

    def _subject(self, api: int) -> frozenset[str]:
        """The subject a model was made for: the words its id and its training data's name share
        (`keremberke/yolov8m-building-segmentation` on `satellite-building-segmentation`: {building})."""
        subject = self._subjects.get(api)
        if subject is None:
            record = self.index.db.apis[api]
            identity = self.index.db.identities[api]
            model_id = (identity.primary if identity is not None else "").rsplit("/", 1)[-1]
            dataset = (record.performance.dataset or "").rsplit("/", 1)[-1]
            words = {w for w in tokenize(model_id) if w.isalpha()} & {w for w in tokenize(dataset) if w.isalpha()}
            subject = self._subjects[api] = frozenset(words - _GENERIC_SUBJECTS)
        return subject

    def _from_model(
        self, output: str, constraints: Constraints, hubs: HubCheck | None = None
    ) -> Suggestion | None:
        """Parse a generated answer and check its call; None when it holds no call at all.

        Against the database alone a call it lacks is hallucinated; with `hubs` it is `exists` when its hub confirms
        it, `hallucinated` when its hub denies it, and `unverified` while nobody has answered.
        """
        call_text = parse_answer(output).api_call
        findings = list(self.index.checker.findings(call_text, hubs=hubs))
        if not findings:
            return None
        verdict = findings[0].verdict
        apis = self.index.db.apis
        if verdict.status == "known" and verdict.api is not None:
            return self._known(verdict.api, "model", 1.0, check(constraints, apis[verdict.api].performance))
        evidence = verdict.evidence
        said = ""
        if evidence is not None:
            said = f"{evidence.source}: {evidence.detail}" if evidence.detail else evidence.source
        return Suggestion(
            api_call=findings[0].call.text, api_name=verdict.identity.primary, domain="", framework="",
            verdict=verdict.status, source="model", score=0.0, constraints=ConstraintCheck("unknown"),
            label=verdict.identity.primary, evidence=said,
            alternatives=[apis[i].api_call for i in verdict.alternatives],
        )

    def _known(self, api: int, source: Source, score: float, constraints: ConstraintCheck) -> Suggestion:
        record = self.index.db.apis[api]
        runnable = record.runnable
        return Suggestion(
            api_call=runnable.call, api_name=record.api_name, domain=record.domain, framework=record.framework,
            verdict="known", source=source, score=round(score, 4), constraints=constraints, hub=record.hub, api=api,
            task=self.index.router.api_task[api], label=short_label(runnable.call), imports=runnable.imports,
            placeholders=runnable.placeholders,
        )


def answer_questions(
    pipeline: CompletionPipeline, questions: Sequence[Question], hub: str, top_k: int = 5,
    progress: Callable[[int], None] | None = None, detect: bool = False,
) -> tuple[list[Response], float]:
    """The engine answers every eval question (its first suggestion, in Gorilla's answer format).

    Every question is a request, so the request classifier and the relevance floor are off unless `detect`.

    Also returns top-5 recall: the share of questions whose reference API is among the first five suggestions.
    """
    strict = StrictMetric(pipeline.index.db, pipeline.index.checker)
    responses: list[Response] = []
    hits = 0
    for number, question in enumerate(questions, 1):
        result = pipeline.complete(question.text, n=5, top_k=top_k, hub=hub, hub_filter=True, detect=detect)
        # The published metric parses the record's call as published, so the answer quotes it unrepaired.
        apis = pipeline.index.db.apis
        first = ""
        if result.suggestions:
            top = result.suggestions[0]
            first = apis[top.api].api_call if top.api is not None else top.api_call
        # No suggestion (no word of the question is in the database) is an empty answer, as a silent model gives.
        responses.append(Response(number, f"<<<api_call>>>: {first}, <<<api_provider>>>: {hub}" if first else ""))
        reference = strict.reference_api(question)
        if reference is not None and any(s.api == reference for s in result.suggestions[:5]):
            hits += 1
        if progress is not None:
            progress(number)
    return responses, hits / len(questions) if questions else 0.0
