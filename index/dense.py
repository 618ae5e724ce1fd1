"""Dense retrieval: record embeddings from the CTranslate2 sentence encoder, cosine similarity per API.

Record embeddings are cached on disk keyed by the database content, so only the first start (or a changed
database) pays for embedding the records; later starts load a matrix.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from index.database import ApiDatabase
from index.encoder import EmbeddingCache, EncoderError, SentenceEncoder, TextEncoder, default_cache_dir, default_encoder_dir
from index.records import ApiRecord

log = logging.getLogger(__name__)


def record_text(record: ApiRecord) -> str:
    """What a record is about, in words: the fields a person's request would paraphrase."""
    return ". ".join(
        part for part in (record.domain, record.functionality, record.api_name, record.description) if part
    )


class DenseRetriever:
    """Cosine similarity between a request and every record, scored per distinct API (its best record)."""

    def __init__(self, encoder: TextEncoder, record_vectors: np.ndarray, record_api: Sequence[int], n_apis: int) -> None:
        self.encoder = encoder
        self.vectors = np.ascontiguousarray(record_vectors, dtype=np.float32)
        self.record_api = np.asarray(record_api, dtype=np.int64)
        self.n_apis = n_apis
        self.merged = n_apis != len(self.record_api)
        self._last: tuple[str, np.ndarray] | None = None  # retrieval and task routing embed the same query

    @classmethod
    def from_database(cls, db: ApiDatabase, encoder: TextEncoder, cache_dir: Path | None = None) -> DenseRetriever:
        # One cache entry per database location (its file list), so switching databases does not evict the other;
        # the entry's content key still rebuilds it when the records change.
        where = hashlib.sha256("\n".join([encoder.encoder_id, *db.files]).encode()).hexdigest()[:16]
        cache = EmbeddingCache((cache_dir or default_cache_dir()) / "embeddings" / f"records-{where}.npy")
        vectors = cache.get_or_compute([record_text(r) for r in db.records], encoder)
        return cls(encoder, vectors, db.record_api, len(db.apis))

    def query_vector(self, query: str) -> np.ndarray:
        """The request's embedding; the last one is kept, since routing asks for the vector retrieval just made."""
        last = self._last
        if last is not None and last[0] == query:
            return last[1]
        # Editors can send lone surrogates; the tokenizer cannot take them.
        clean = query.encode("utf-8", "replace").decode("utf-8")
        vector = self.encoder.encode([clean])[0]
        self._last = (query, vector)
        return vector

    def record_scores(self, query: str) -> np.ndarray:
        if not len(self.vectors):
            return np.zeros(0, dtype=np.float32)
        return self.vectors @ self.query_vector(query)

    def api_scores(self, record_scores: np.ndarray) -> np.ndarray:
        if not self.merged:
            return record_scores
        best = np.full(self.n_apis, -1.0, dtype=np.float32)
        np.maximum.at(best, self.record_api, record_scores)
        return best


def load_default_encoder(threads: int = 1) -> SentenceEncoder:
    """The packaged all-MiniLM-L6-v2, converted to CTranslate2 once (int8) and cached.

    A request is one short sentence: one thread encodes it faster than two on a busy 2-core machine (3.9 vs 5.9 ms),
    and numpy's BLAS is held to one thread in this process, since its idle threads spin on the cores the encoder
    needs (measured with both on 2 cores: the 1,726 x 384 similarity product 7 ms -> 0.25 ms, a query 8.6 -> 3.9 ms).
    """
    threadpool_limits(limits=1, user_api="blas")
    return SentenceEncoder(default_encoder_dir(), device="cpu", compute_type="int8", intra_threads=threads)


def load_encoder_or_none(retriever: str) -> SentenceEncoder | None:
    """The sentence encoder for hybrid retrieval, or None (BM25 alone) when asked or when it is not installed."""
    if retriever != "hybrid":
        return None
    try:
        return load_default_encoder()
    except EncoderError as exc:
        log.warning("dense retrieval unavailable, using BM25 alone: %s", exc)
        return None
