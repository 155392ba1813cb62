"""A real handler for tests: each event's side effect is a row in a SQLite file of its own.

`effects` has one row per delivery (a unique key makes the handler idempotent, as the
workflows must be); `executions` has one row per attempt, so tests can count re-runs.
Deliveries whose id starts with `always-fail` always raise; `flaky` ones raise on their
first two attempts. `promobot serve --handler tests.server.recording:build_handler` uses
it from `PROMOBOT_TEST_RECORD_DB` (and `PROMOBOT_TEST_WORK_SECONDS` of work per event).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from bot.server.handlers import Handler, ServiceContext
from bot.store.base import StoredEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL
);
"""


class HandlerFailure(Exception):
    """The failure a test asked for."""


class Recorder:
    """Handles events by recording them; `effects()` and `executions()` read them back."""

    def __init__(self, path: Path, work_seconds: float = 0.0) -> None:
        self.path = path
        self.work_seconds = work_seconds
        with self._connect() as connection:
            connection.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    def __call__(self, event: StoredEvent) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO executions (delivery_id, attempt) VALUES (?, ?)",
                (event.delivery_id, event.attempts),
            )
        if event.delivery_id.startswith("always-fail") or (
            event.delivery_id.startswith("flaky") and event.attempts < 3
        ):
            raise HandlerFailure(f"asked to fail {event.delivery_id} on attempt {event.attempts}")
        if self.work_seconds:
            # Stands for the workflow's API calls: the event is in flight meanwhile.
            time.sleep(self.work_seconds)
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO effects (delivery_id, kind, key, payload) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (delivery_id) DO NOTHING",
                (event.delivery_id, event.kind, event.key, _json(event.payload)),
            )

    def effects(self) -> list[tuple[str, str, str]]:
        """(delivery id, kind, key) of every recorded effect, in the order they happened."""
        with self._connect() as connection:
            rows = connection.execute("SELECT delivery_id, kind, key FROM effects ORDER BY seq")
            return [(row[0], row[1], row[2]) for row in rows]

    def executions(self) -> list[tuple[str, int]]:
        """(delivery id, attempt) of every attempt, in order."""
        with self._connect() as connection:
            rows = connection.execute("SELECT delivery_id, attempt FROM executions ORDER BY seq")
            return [(row[0], row[1]) for row in rows]


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True)


def build_handler(context: ServiceContext) -> Handler:
    """Handler factory for `promobot serve --handler tests.server.recording:build_handler`."""
    del context
    work = float(os.environ.get("PROMOBOT_TEST_WORK_SECONDS", "0"))
    return Recorder(Path(os.environ["PROMOBOT_TEST_RECORD_DB"]), work_seconds=work)
