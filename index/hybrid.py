"""Hybrid retrieval: BM25 and the dense encoder fused by reciprocal rank fusion, record by record.

RRF needs no score calibration between the two (BM25 scores are unbounded, cosines are not); k=60 is the value of
Cormack et al. (2009), kept as published rather than tuned. On the tuning data (TorchHub's train split, and
synthetic requests made from HF and TF Hub record descriptions) RRF beat either retriever alone on two of the three
hubs, and a weighted sum of normalised scores on all but TorchHub.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index.cancel import checkpoint
from index.dense import DenseRetriever
from index.retrieval import Bm25Retriever, Retriever


def _ranks(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(scores.size, dtype=np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(scores.size, dtype=np.float32)
    return ranks


class HybridRetriever(Retriever):
    name = "hybrid"
    k = 60.0

    def __init__(self, bm25: Bm25Retriever, dense: DenseRetriever) -> None:
        super().__init__(bm25.record_api, list(bm25.hub_of))
        self.bm25 = bm25
        self.dense = dense

    def record_scores(self, query: str, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        lexical = self.bm25.record_scores(query)
        if not lexical.size:
            return lexical
        checkpoint(cancelled)  # before the encoder, the costly half
        semantic = self.dense.record_scores(query)
        return 1.0 / (self.k + _ranks(lexical)) + 1.0 / (self.k + _ranks(semantic))
