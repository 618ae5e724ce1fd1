"""Task routing: which task a request asks for, before any model is chosen.

Three kinds of evidence, added up per task:
- phrases: the task's own wording (`index.tasks`), direction included ("text to speech" vs "speech to text");
- direction: input and output types the request names ("create a picture from a text description": text in, image
  out), which count for the tasks with that signature and against the reversed ones;
- meaning: the sentence encoder's similarity to the task's paraphrases (when an encoder is loaded), and the tasks
  of the APIs retrieval ranks highest (the records' own descriptions).
With the encoder the router also says how much closer the request is to a note about code (`NOTE_EXAMPLES`: "load the
dataset", "training loop") than to any task, which the relevance floor counts against it.
The weights were set on requests written for this purpose (the dev split of tests/data/comments.jsonl) and on
TorchHub's train split, never on the eval split.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from index.encoder import EmbeddingCache, TextEncoder, default_cache_dir
from index.tasks import AUD, IMG, MAKE, NOTE_EXAMPLES, TASKS, TXT, VID, phrase_scores, task_of_domain

MODALITIES = {
    "image": IMG[:-1] + r"|illustration|illustrations|artwork|drawing|drawings|painting|paintings|portrait|logo)",
    "video": VID,
    "audio": AUD[:-1] + r"|narration|voiceover|voice-over)",
    "text": TXT,
}
_DET = r"(?:an? |the |my |this |that |these |those |some |each |every |input |user |our |given )?(?:\w+ )?"
_OUT = {
    m: (re.compile(rf"\b{MAKE}\b(?:\s+[\w-]+){{0,2}}?\s+{noun}\b", re.I),
        re.compile(rf"\binto {_DET}{noun}\b", re.I),
        re.compile(rf"\b(?:convert|converts|converting|turn|turns|turning|transform|transforms|change)\b[^.;]{{0,40}}?\bto {_DET}{noun}\b", re.I))
    for m, noun in MODALITIES.items()
}
_IN = {
    m: (re.compile(rf"\bfrom {_DET}{noun}\b", re.I),
        re.compile(rf"\b(?:in|of|on|within|inside) {_DET}{noun}\b", re.I),
        re.compile(rf"\b(?:describe|describes|describing|caption|captions|captioning|transcribe|transcribes|transcribing|classify|classifies|classifying|detect|detects|detecting|segment|segmenting|analy[sz]e|analy[sz]es|analy[sz]ing|listen to|watch)\b[^.,;]{{0,25}}?\b{noun}\b", re.I))
    for m, noun in MODALITIES.items()
}
MAIN = ("image", "video", "audio", "text")
log = logging.getLogger(__name__)

# Weights of the evidence (set on the development requests, see the module docstring).
DENSE_WEIGHT = 8.0
DENSE_BASE = 0.25
# Retrieval's vote: chosen by the mean of the dev requests' task accuracy and TorchHub train's domain accuracy (long
# APIBench-style questions lean on retrieval, short everyday requests on phrases and meaning).
VOTE_WEIGHT = 1.5
VOTE_WEIGHT_BM25 = 1.0
VOTE_DEPTH = 10
DIRECTION_BONUS = 1.0
DIRECTION_PENALTY = 2.5


class TaskScore(msgspec.Struct, frozen=True):
    task: str
    score: float


class Routing(msgspec.Struct, frozen=True):
    """Tasks ranked for a request; `routed` are those the suggestions come from (the best, and any close to it)."""

    ranked: list[TaskScore]
    routed: list[str]
    inputs: list[str]
    outputs: list[str]
    evidence: float = 0.0  # how much the request alone says some task (phrases, direction, meaning; no vote)
    note: float = -1.0  # how much closer the request is to a note about code than to any task (encoder only)

    @property
    def best(self) -> TaskScore | None:
        return self.ranked[0] if self.ranked else None


def directions(text: str) -> tuple[set[str], set[str]]:
    """(input types, output types) a request names: "a picture from a text description" -> ({text}, {image})."""
    outputs = {m for m, patterns in _OUT.items() if any(p.search(text) for p in patterns)}
    inputs = {m for m, patterns in _IN.items() if any(p.search(text) for p in patterns)}
    # A type named only as an output ("generate speech") is not also an input.
    return inputs - outputs if outputs else inputs, outputs


class TaskRouter:
    """Routes requests to the tasks of one database; the task side is built once per database."""

    def __init__(
        self, api_domains: Sequence[str], encoder: TextEncoder | None = None, cache_dir: Path | None = None
    ) -> None:
        self.api_task = [task_of_domain(d) or "" for d in api_domains]
        self.tasks_present = sorted({t for t in self.api_task if t})
        self.task_apis: dict[str, np.ndarray] = {
            t: np.array([i for i, a in enumerate(self.api_task) if a == t], dtype=np.int64) for t in self.tasks_present
        }
        self.encoder = encoder
        self._proto_task: list[str] = []
        self._proto: np.ndarray | None = None
        self._notes: np.ndarray | None = None
        if encoder is not None:
            texts: list[str] = []
            for task in TASKS:
                if task.id in self.task_apis:
                    for text in (task.title, *task.examples):
                        texts.append(text)
                        self._proto_task.append(task.id)
            vectors = _embed([*texts, *NOTE_EXAMPLES], encoder, cache_dir)
            self._proto = vectors[: len(texts)] if texts else None
            self._notes = vectors[len(texts):]
        self._task_index = {t: i for i, t in enumerate(self.tasks_present)}
        self._proto_index = np.array([self._task_index[t] for t in self._proto_task], dtype=np.int64)

    def route(
        self, request: str, api_scores: np.ndarray | None = None, allowed: np.ndarray | None = None,
        query_vector: np.ndarray | None = None, margin: float = 1.0,
    ) -> Routing:
        """Tasks for `request`, best first. `api_scores`: retrieval's per-API scores (their tasks vote);
        `allowed`: a boolean mask of the APIs that may be suggested (a hub filter), so only their tasks compete."""
        present = self.tasks_present
        if allowed is not None:
            present = [t for t in present if allowed[self.task_apis[t]].any()]
        if not present or not request.strip():
            return Routing([], [], [], [], 0.0)
        scores = dict.fromkeys(present, 0.0)
        note = -1.0
        for task, weight in phrase_scores(request).items():
            if task in scores:
                scores[task] += weight
        inputs, outputs = directions(request)
        if inputs or outputs:
            for task in TASKS:
                if task.id not in scores:
                    continue
                t_in = {m for m in task.inputs if m in MAIN}
                t_out = {m for m in task.outputs if m in MAIN}
                if outputs & (t_in - t_out) or inputs & (t_out - t_in):
                    scores[task.id] -= DIRECTION_PENALTY
                elif (outputs & t_out) or (inputs & t_in and not outputs):
                    scores[task.id] += DIRECTION_BONUS
        if self._proto is not None and self.encoder is not None:
            vector = query_vector if query_vector is not None else self.encoder.encode([_clean(request)])[0]
            sims = self._proto @ vector
            best = np.full(len(self.tasks_present), -1.0, dtype=np.float32)
            np.maximum.at(best, self._proto_index, sims)
            for task in present:
                scores[task] += DENSE_WEIGHT * max(0.0, float(best[self._task_index[task]]) - DENSE_BASE)
            if self._notes is not None and len(self._notes):
                note = float((self._notes @ vector).max()) - float(best.max())
        # Retrieval finds something for almost any text (a prose note shares words with some record), so its vote
        # ranks tasks but is no evidence that the text asks for one.
        evidence = dict(scores)
        if api_scores is not None and api_scores.size:
            vote = VOTE_WEIGHT if self._proto is not None else VOTE_WEIGHT_BM25
            masked = api_scores if allowed is None else np.where(allowed, api_scores, -np.inf)
            order = np.argsort(-masked, kind="stable")[:VOTE_DEPTH]
            for rank, api in enumerate(order):
                if not np.isfinite(masked[api]) or masked[api] <= 0:
                    break
                task = self.api_task[api]
                if task in scores:
                    scores[task] += vote / (rank + 2)
        ranked = sorted((TaskScore(t, round(s, 4)) for t, s in scores.items()), key=lambda ts: -ts.score)
        top = ranked[0].score
        routed = [ts.task for ts in ranked if ts.score >= top - margin][:3]
        return Routing(ranked, routed, sorted(inputs), sorted(outputs), round(max(evidence.values()), 4),
                       round(note, 4))


def _embed(texts: list[str], encoder: TextEncoder, cache_dir: Path | None) -> np.ndarray:
    """The paraphrases' embeddings, cached on disk beside the records' (a start pays for them once)."""
    cache = EmbeddingCache((cache_dir or default_cache_dir()) / "embeddings" / "tasks.npy")
    try:
        return cache.get_or_compute(texts, encoder)
    except OSError as exc:  # a read-only cache directory: compute, do not fail
        log.warning("task embeddings not cached (%s)", exc)
        return encoder.encode(texts)


def _clean(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")
