"""BM25 retrieval over the distinct APIs, with per-field document text and an optional hub filter.

Served with bm25s (sparse matrices: a query touches only the columns of its own terms); rank-bm25 is kept as the
reference implementation in the tests. Both take the same tokens from `tokenize`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import bm25s
import msgspec
import numpy as np

from index.cancel import checkpoint
from index.database import ApiDatabase
from index.records import ApiRecord

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    """a an and are as at be by can could do does for from has have how i in into is it its me my of on or our
    please so some that the their them these this to us using use want we what which will with would you your
    need needs provide api apis help me there here looking find give get""".split()
)
# Field weights: how many times a field's tokens count in a record's document.
FIELD_WEIGHTS = (("domain", 2), ("functionality", 2), ("api_name", 2), ("description", 1))


def _stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, stop words dropped, plurals folded; the same for documents and queries."""
    return [_stem(t) for t in _WORD.findall(text.lower()) if t not in STOPWORDS]


def _call_words(api_call: str) -> str:
    # Model names inside the call ('resnet50', 'bert-base-uncased') are words people type.
    return " ".join(re.findall(r"['\"]([^'\"]+)['\"]", api_call))


def document_tokens(record: ApiRecord) -> list[str]:
    tokens: list[str] = []
    for field, weight in FIELD_WEIGHTS:
        tokens.extend(tokenize(getattr(record, field)) * weight)
    tokens.extend(tokenize(_call_words(record.api_call)))
    return tokens


def aggregate(record_scores: np.ndarray, record_api: np.ndarray, n_apis: int, merged: bool) -> np.ndarray:
    """Per-API scores from per-record scores: an API scores as its best record."""
    if not merged:
        return record_scores
    best = np.full(n_apis, -np.inf, dtype=np.float32)
    np.maximum.at(best, record_api, record_scores)
    return best


class Hit(msgspec.Struct, frozen=True):
    api: int  # index into ApiDatabase.apis
    score: float


class Retriever:
    """Shared shape of the retrievers: per-record scores, aggregated per API, top-k with an optional hub filter."""

    def __init__(self, record_api: Sequence[int], api_hubs: Sequence[str]) -> None:
        self.record_api = np.asarray(record_api, dtype=np.int64)
        self.n_apis = len(api_hubs)
        self.merged = self.n_apis != len(self.record_api)
        self.hub_of = np.array(api_hubs, dtype=object)
        self._hub_masks: dict[str, np.ndarray] = {}

    name = "retriever"

    def record_scores(self, query: str, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        raise NotImplementedError

    def scores(self, query: str, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """Score of every distinct API: its best record's. Raises `Cancelled` at a checkpoint once `cancelled()`."""
        checkpoint(cancelled)
        return aggregate(self.record_scores(query, cancelled), self.record_api, self.n_apis, self.merged)

    def search(self, query: str, k: int = 5, hub: str | None = None) -> list[Hit]:
        """Top-k APIs for a request, best first; `hub` keeps one hub's APIs only."""
        return self.top(self.scores(query), k, hub)

    def hub_mask(self, hub: str) -> np.ndarray:
        mask = self._hub_masks.get(hub)
        if mask is None:
            mask = self.hub_of == hub
            self._hub_masks[hub] = mask
        return mask

    def top(self, scores: np.ndarray, k: int, hub: str | None = None) -> list[Hit]:
        if scores.size == 0 or k <= 0:
            return []
        if hub is not None:
            scores = np.where(self.hub_mask(hub), scores, -np.inf)
        k = min(k, scores.size)
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.lexsort((part, -scores[part]))]
        return [Hit(int(i), float(scores[i])) for i in order if np.isfinite(scores[i]) and scores[i] > 0]


class Bm25Retriever(Retriever):
    """BM25 (k1=1.5, b=0.75, Lucene's always-positive idf) over every record, scored per distinct API.

    Records that share a call (220 TF Hub records load the Universal Sentence Encoder) are indexed one by one, so
    each paraphrase of what the API does can match; an API scores as its best record.
    """

    name = "bm25"
    k1 = 1.5
    b = 0.75

    def __init__(self, corpus_tokens: list[list[str]], record_api: Sequence[int], api_hubs: Sequence[str]) -> None:
        super().__init__(record_api, api_hubs)
        self.corpus_tokens = corpus_tokens
        self.index = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        if self.corpus_tokens:
            self.index.index(self.corpus_tokens, show_progress=False)

    @classmethod
    def from_database(cls, db: ApiDatabase) -> Bm25Retriever:
        return cls([document_tokens(r) for r in db.records], db.record_api, [api.hub for api in db.apis])

    def record_scores(self, query: str, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """BM25 score of every record (zeros when no word of the query is in the corpus)."""
        known = [t for t in tokenize(query) if t in self.index.vocab_dict] if self.corpus_tokens else []
        if not known:
            return np.zeros(len(self.corpus_tokens), dtype=np.float32)
        return self.index.get_scores(known)
