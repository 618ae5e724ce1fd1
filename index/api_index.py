"""One snapshot of everything built from the API files: database, retriever and checker together.

The server and the CLI hold one `ApiIndex`; a reload swaps the whole snapshot, so a retriever never meets a checker
built from other files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from index.calls import PythonCalls
from index.checker import ApiChecker
from index.database import ApiDatabase
from index.retrieval import Bm25Retriever


class ApiIndex:
    def __init__(self, db: ApiDatabase) -> None:
        started = time.perf_counter()
        self.db = db
        self.retriever = Bm25Retriever.from_database(db)
        self.checker = ApiChecker(db)
        self.build_seconds = time.perf_counter() - started

    @classmethod
    def load(cls, paths: Sequence[Path], parser: PythonCalls | None = None) -> ApiIndex:
        return cls(ApiDatabase.load(paths, parser))

    def reload_if_changed(self) -> ApiIndex | None:
        db = self.db.reload_if_changed()
        return ApiIndex(db) if db is not None else None

    def reload(self) -> ApiIndex:
        return ApiIndex(ApiDatabase.load(self.db.paths, self.db.parser))
