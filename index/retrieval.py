"""BM25 retrieval over the distinct APIs, with per-field document text and an optional hub filter.

Served with bm25s (sparse matrices: a query touches only the columns of its own terms); rank-bm25 is kept as the
reference implementation in the tests. Both take the same tokens from `tokenize`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import msgspec
import numpy as np

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


class Hit(msgspec.Struct, frozen=True):
    api: int  # index into ApiDatabase.apis
    score: float


class Bm25Retriever:
    """BM25 (k1=1.5, b=0.75, Lucene's always-positive idf) over every record, scored per distinct API.

    Records that share a call (220 TF Hub records load the Universal Sentence Encoder) are indexed one by one, so
    each paraphrase of what the API does can match; an API scores as its best record.
    """

    k1 = 1.5
    b = 0.75

    def __init__(self, corpus_tokens: list[list[str]], record_api: Sequence[int], api_hubs: Sequence[str]) -> None:
        self.corpus_tokens = corpus_tokens
        self.record_api = np.asarray(record_api, dtype=np.int64)
        self.n_apis = len(api_hubs)
        self.merged = self.n_apis != len(corpus_tokens)
        self.hub_of = np.array(api_hubs, dtype=object)
        self._hub_masks: dict[str, np.ndarray] = {}
        self.index = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        if self.corpus_tokens:
            self.index.index(self.corpus_tokens, show_progress=False)

    @classmethod
    def from_database(cls, db: ApiDatabase) -> Bm25Retriever:
        return cls([document_tokens(r) for r in db.records], db.record_api, [api.hub for api in db.apis])

    def hub_mask(self, hub: str) -> np.ndarray:
        mask = self._hub_masks.get(hub)
        if mask is None:
            mask = self.hub_of == hub
            self._hub_masks[hub] = mask
        return mask

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        if not self.corpus_tokens:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in tokens if t in self.index.vocab_dict]
        if not known:
            return np.zeros(self.n_apis, dtype=np.float32)
        scores = self.index.get_scores(known)
        if not self.merged:
            return scores
        best = np.zeros(self.n_apis, dtype=np.float32)
        np.maximum.at(best, self.record_api, scores)
        return best

    def search(self, query: str, k: int = 5, hub: str | None = None) -> list[Hit]:
        """Top-k APIs for a request, best first; `hub` keeps one hub's APIs only."""
        return self.top(self.scores(tokenize(query)), k, hub)

    def top(self, scores: np.ndarray, k: int, hub: str | None = None) -> list[Hit]:
        if scores.size == 0 or k <= 0:
            return []
        if hub is not None:
            scores = np.where(self.hub_mask(hub), scores, -np.inf)
        k = min(k, scores.size)
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.lexsort((part, -scores[part]))]
        return [Hit(int(i), float(scores[i])) for i in order if np.isfinite(scores[i]) and scores[i] > 0]
