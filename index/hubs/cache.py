"""One persistent cache of hub answers, shared by the CLI and the server, safe with several processes at once.

SQLite in WAL mode: readers never block, writers queue for a moment (busy timeout), and each write is one short
transaction, so two `gorilla-lsp check` runs and an editor's server can fill it together. `exists` answers are kept
30 days, `missing` ones a day (a model may be published tomorrow); `unknown` answers (errors) are never stored.
A cache that cannot be opened or written (read-only disk, corrupt file) is reported once and skipped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import msgspec

from index.hubs.answers import HubAnswer

log = logging.getLogger(__name__)

DAY = 86_400.0
TTL = {"exists": 30 * DAY, "missing": 1 * DAY}
FILE_NAME = "hub-answers.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL)"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(HubAnswer).decode


class AnswerCache:
    """Thread-safe: one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._broken = False

    @classmethod
    def in_dir(cls, folder: Path) -> AnswerCache:
        return cls(folder / FILE_NAME)

    def _connection(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = self._open()
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc) or "malformed" in str(exc):
                connection = self._replace_corrupt(exc)
            else:
                self._give_up(exc)
                return None
        except OSError as exc:
            self._give_up(exc)
            return None
        self._local.connection = connection
        return connection

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(_SCHEMA)
        return connection

    def _replace_corrupt(self, exc: Exception) -> sqlite3.Connection | None:
        log.warning("hub answer cache %s is unreadable (%s): starting a new one", self.path, exc)
        try:
            self.path.replace(self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}"))
            return self._open()
        except (OSError, sqlite3.Error) as again:
            self._give_up(again)
            return None

    def _give_up(self, exc: Exception) -> None:
        if not self._broken:
            log.warning("hub answer cache %s unavailable (%s): answers are kept in memory only", self.path, exc)
        self._broken = True

    def get(self, key: str, now: float | None = None) -> HubAnswer | None:
        connection = self._connection()
        if connection is None:
            return None
        try:
            row = connection.execute("SELECT value, expires FROM answers WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            log.debug("cache read failed for %s: %s", key, exc)
            return None
        if row is None or row[1] < (time.time() if now is None else now):
            return None
        try:
            return _decode(row[0])
        except msgspec.DecodeError:
            return None

    def put(self, key: str, answer: HubAnswer, now: float | None = None) -> None:
        ttl = TTL.get(answer.status)
        if ttl is None or answer.local:
            return  # errors are asked again next time; local evidence is read again from its own cache
        connection = self._connection()
        if connection is None:
            return
        expires = (time.time() if now is None else now) + ttl
        try:
            connection.execute("INSERT OR REPLACE INTO answers (key, value, expires) VALUES (?, ?, ?)",
                               (key, _encode(answer), expires))
        except sqlite3.Error as exc:
            log.warning("cache write failed for %s: %s", key, exc)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
