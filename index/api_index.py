"""One snapshot of everything built from the API files: database, retriever and checker together.

The server and the CLI hold one `ApiIndex`; a reload swaps the whole snapshot, so a retriever never meets a checker
built from other files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index.calls import PythonCalls
from index.checker import ApiChecker
from index.database import ApiDatabase
from index.encoder import TextEncoder
from index.retrieval import Bm25Retriever, Retriever

if TYPE_CHECKING:
    from index.dense import DenseRetriever
    from index.router import TaskRouter


class ApiIndex:
    """With an encoder, retrieval is hybrid (BM25 + dense, fused); without one, BM25 alone."""

    def __init__(
        self, db: ApiDatabase, encoder: TextEncoder | None = None, bm25: Bm25Retriever | None = None,
        checker: ApiChecker | None = None,
    ) -> None:
        started = time.perf_counter()
        self.db = db
        self.encoder = encoder
        self.bm25 = bm25 if bm25 is not None else Bm25Retriever.from_database(db)
        self.retriever: Retriever = self.bm25
        self.dense: DenseRetriever | None = None
        if encoder is not None:
            from index.dense import DenseRetriever
            from index.hybrid import HybridRetriever

            self.dense = DenseRetriever.from_database(db, encoder)
            self.retriever = HybridRetriever(self.bm25, self.dense)
        self.checker = checker if checker is not None else ApiChecker(db)
        self._router: TaskRouter | None = None
        self.build_seconds = time.perf_counter() - started

    @property
    def router(self) -> TaskRouter:
        """Built when a request is first routed: `check` never routes one, and importing the router's patterns
        costs 0.3 s."""
        if self._router is None:
            from index.router import TaskRouter

            self._router = TaskRouter([api.domain for api in self.db.apis], self.encoder)
        return self._router

    @classmethod
    def load(
        cls, paths: Sequence[Path], parser: PythonCalls | None = None, encoder: TextEncoder | None = None
    ) -> ApiIndex:
        return cls(ApiDatabase.load(paths, parser), encoder)

    def with_encoder(self, encoder: TextEncoder) -> ApiIndex:
        """The same database with hybrid retrieval; the BM25 index and the checker are shared, not rebuilt."""
        return ApiIndex(self.db, encoder, self.bm25, self.checker)

    def reload_if_changed(self) -> ApiIndex | None:
        db = self.db.reload_if_changed()
        return ApiIndex(db, self.encoder) if db is not None else None

    def reload(self) -> ApiIndex:
        return ApiIndex(ApiDatabase.load(self.db.paths, self.db.parser), self.encoder)
