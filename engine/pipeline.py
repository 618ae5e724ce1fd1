"""The completion pipeline: request -> constraints + retrieval -> (model candidates) -> AST check -> suggestions.

Without a model it is the retrieval engine: it only ever suggests calls from the database, so it cannot invent one.
With a model, every generated call is checked against the database before anyone sees it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import msgspec

from index.answers import parse_answer
from index.api_index import ApiIndex
from index.cancel import checkpoint
from index.constraints import ConstraintCheck, Constraints, check, parse_constraints, rank, strip_constraints
from index.evaluation import Question, Response, StrictMetric

Source = Literal["model", "retrieval"]
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
    api_call: str
    api_name: str
    domain: str
    framework: str
    verdict: str  # known | hallucinated
    source: Source
    score: float
    constraints: ConstraintCheck
    hub: str = ""
    api: int | None = None  # index into the database's APIs; None for a hallucinated call
    alternatives: list[str] = []


class CompletionResult(msgspec.Struct):
    engine: EngineInfo
    request: str
    constraints: Constraints
    suggestions: list[Suggestion]
    seconds: float


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

    def info(self) -> EngineInfo:
        if self.model is not None:
            info = self.model.info()
            info.apis = len(self.index.db.apis)
            return info
        return EngineInfo(backend="retrieval", retriever=self.index.retriever.name, apis=len(self.index.db.apis))

    def retrieve(
        self, request: str, k: int, hub: str | None = None, hub_filter: bool = False,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k (api, score); a hub filters (evaluation) or, by default, only biases towards that hub (editor)."""
        retriever = self.index.retriever
        scores = retriever.scores(request, cancelled)
        if hub is not None and not hub_filter and scores.size:
            scores = scores * (1.0 + 0.5 * retriever.hub_mask(hub))
        hits = retriever.top(scores, k, hub if hub_filter else None)
        return [(h.api, h.score) for h in hits if h.score != 0]

    def complete(
        self,
        text: str,
        n: int = 5,
        top_k: int = 5,
        hub: str | None = None,
        hub_filter: bool = False,
        hallucinated: HallucinatedPolicy = "warn",
        cancelled: Callable[[], bool] | None = None,
    ) -> CompletionResult:
        started = time.perf_counter()
        request = clean_request(text)
        constraints = parse_constraints(request)
        apis = self.index.db.apis
        query = request if constraints.empty() else strip_constraints(request) or request
        pool = self.retrieve(query, max(top_k, n) * (1 if constraints.empty() else 10), hub, hub_filter, cancelled)
        checkpoint(cancelled)
        if not constraints.empty() and pool:
            # Constraints re-rank a deeper pool than is shown (few records state their size), kept to the hits that
            # are still about the request.
            pool = [(api, score) for api, score in pool if score >= 0.4 * pool[0][1]]
        ranked = rank([(api, score, apis[api].performance) for api, score in pool], constraints)
        suggestions: list[Suggestion] = []
        seen: set[Any] = set()
        if self.model is not None and request:
            documents = [apis[api].document() for api, _, _ in ranked[:top_k]]
            candidates = self.model.candidates(request, documents, n, cancelled)
            checkpoint(cancelled)  # a generation stopped by the token returns what it had: nobody wants it
            for text_out in candidates:
                suggestion = self._from_model(text_out, constraints)
                if suggestion is None or (suggestion.verdict == "hallucinated" and hallucinated == "hide"):
                    continue
                key = suggestion.api if suggestion.api is not None else suggestion.api_call
                if key not in seen:
                    seen.add(key)
                    suggestions.append(suggestion)
            # The model's known calls first, those that break a constraint after the others.
            suggestions.sort(key=lambda s: (s.verdict != "known", s.constraints.status == "violated"))
        for api, score, result in ranked:
            if len(suggestions) >= n:
                break
            if api in seen:
                continue
            seen.add(api)
            record = apis[api]
            suggestions.append(
                Suggestion(
                    api_call=record.api_call, api_name=record.api_name, domain=record.domain,
                    framework=record.framework, verdict="known", source="retrieval", score=round(score, 4),
                    constraints=result, hub=record.hub, api=api,
                )
            )
        # Invented calls (kept, with their verdict, when the setting says so) go after every real one.
        suggestions = sorted(suggestions[:n], key=lambda s: s.verdict != "known")
        return CompletionResult(self.info(), request, constraints, suggestions,
                                round(time.perf_counter() - started, 6))

    def _from_model(self, output: str, constraints: Constraints) -> Suggestion | None:
        """Parse a generated answer and check its call; None when it holds no call at all."""
        call_text = parse_answer(output).api_call
        findings = list(self.index.checker.findings(call_text))
        if not findings:
            return None
        verdict = findings[0].verdict
        apis = self.index.db.apis
        if verdict.status == "known" and verdict.api is not None:
            record = apis[verdict.api]
            return Suggestion(
                api_call=record.api_call, api_name=record.api_name, domain=record.domain, framework=record.framework,
                verdict="known", source="model", score=1.0, constraints=check(constraints, record.performance),
                hub=record.hub, api=verdict.api,
            )
        return Suggestion(
            api_call=findings[0].call.text, api_name=verdict.identity.primary, domain="", framework="",
            verdict="hallucinated", source="model", score=0.0, constraints=ConstraintCheck("unknown"),
            alternatives=[apis[i].api_call for i in verdict.alternatives],
        )


def answer_questions(
    pipeline: CompletionPipeline, questions: Sequence[Question], hub: str, top_k: int = 5,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Response], float]:
    """The engine answers every eval question (its first suggestion, in Gorilla's answer format).

    Also returns top-5 recall: the share of questions whose reference API is among the first five suggestions.
    """
    strict = StrictMetric(pipeline.index.db, pipeline.index.checker)
    responses: list[Response] = []
    hits = 0
    for number, question in enumerate(questions, 1):
        result = pipeline.complete(question.text, n=5, top_k=top_k, hub=hub, hub_filter=True)
        first = result.suggestions[0].api_call if result.suggestions else ""
        # No suggestion (no word of the question is in the database) is an empty answer, as a silent model gives.
        responses.append(Response(number, f"<<<api_call>>>: {first}, <<<api_provider>>>: {hub}" if first else ""))
        reference = strict.reference_api(question)
        if reference is not None and any(s.api == reference for s in result.suggestions[:5]):
            hits += 1
        if progress is not None:
            progress(number)
    return responses, hits / len(questions) if questions else 0.0
