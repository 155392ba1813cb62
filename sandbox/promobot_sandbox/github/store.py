"""The sandbox's state: JSON records in one SQLite file, safe under concurrent requests.

Every record has a kind (`pull`, `comment`, ...), a scope (usually the repository's full
name, lower case) and a key (a number, a login, a SHA) so the common lookups hit an index.
One re-entrant lock serialises every operation: a request that reads, decides and writes
holds it for the whole sequence (see `Store.lock`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_lookup ON records (kind, scope, key);
"""


class Store:
    """JSON records in SQLite. Ids are unique across kinds, like GitHub's database ids."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and commit every write inside the block at once (or none)."""
        with self.lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def insert(
        self,
        kind: str,
        data: Record,
        *,
        scope: str = "",
        key: str | int = "",
        record_id: int | None = None,
    ) -> Record:
        """Store a new record; its id (given, or the next free one) is written into
        `data["id"]` and returned with it."""
        with self.lock:
            cursor = self._db.execute(
                "INSERT INTO records (id, kind, scope, key, data) VALUES (?, ?, ?, ?, '{}')",
                (record_id, kind, scope, str(key)),
            )
            record_id = cursor.lastrowid
            assert record_id is not None
            data = {**data, "id": record_id}
            self._db.execute(
                "UPDATE records SET data = ? WHERE id = ?", (json.dumps(data), record_id)
            )
            return data

    def get(self, kind: str, record_id: int) -> Record | None:
        with self.lock:
            row = self._db.execute(
                "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, record_id)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def find(
        self, kind: str, *, scope: str | None = None, key: str | int | None = None
    ) -> list[Record]:
        """Records of a kind, optionally narrowed by scope and key, oldest first."""
        query = "SELECT data FROM records WHERE kind = ?"
        params: list[Any] = [kind]
        if scope is not None:
            query += " AND scope = ?"
            params.append(scope)
        if key is not None:
            query += " AND key = ?"
            params.append(str(key))
        with self.lock:
            rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def find_one(
        self, kind: str, *, scope: str | None = None, key: str | int | None = None
    ) -> Record | None:
        found = self.find(kind, scope=scope, key=key)
        return found[0] if found else None

    def update(self, kind: str, data: Record, *, key: str | int | None = None) -> Record:
        """Replace a record's data (found by `data["id"]`); optionally move it to a new key."""
        with self.lock:
            if key is None:
                self._db.execute(
                    "UPDATE records SET data = ? WHERE kind = ? AND id = ?",
                    (json.dumps(data), kind, data["id"]),
                )
            else:
                self._db.execute(
                    "UPDATE records SET data = ?, key = ? WHERE kind = ? AND id = ?",
                    (json.dumps(data), str(key), kind, data["id"]),
                )
        return data

    def delete(self, kind: str, record_id: int) -> None:
        with self.lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))
