"""SQLite's WAL checkpoints, run by a background thread instead of inside commits.

A checkpoint first flushes the WAL to disk (so relaxed commits are on disk at most
`interval` seconds after they return), then copies the WAL's pages into the database
file and flushes that. It is PASSIVE: it neither waits for nor blocks readers and
writers, so the copying and flushing never delay a delivery.

SQLite starts the WAL from its beginning again (rewriting the file in place instead of
making it longer) only when a transaction starts while everything in it has been copied.
Under steady writes that moment never comes by itself; so once the WAL holds
`RESTART_FRAMES` frames, a second checkpoint runs with this process's writes paused: it
only has the few frames written during the first one to copy.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from bot.store.engine import sqlite_writes_paused

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
RESTART_FRAMES = 1000
"""About 4 MB of 4 kB pages (SQLite's own default checkpoint threshold)."""


class WalCheckpointer:
    """Checkpoints one SQLite database every `interval` seconds, from its own thread."""

    def __init__(self, engine: Engine, *, interval: float = CHECKPOINT_SECONDS) -> None:
        if engine.url.database is None:
            raise ValueError("a WAL checkpointer needs a SQLite database file")
        self._engine = engine
        self._database = engine.url.database
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="promobot-wal-checkpoint", daemon=True
        )

    def start(self) -> None:
        """Start checkpointing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then checkpoint once more (nothing relaxed is left unflushed)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self.checkpoint()

    def checkpoint(self) -> None:
        """Checkpoint now; with writes paused too when the WAL has grown long."""
        # A raw DBAPI connection: SQLAlchemy's begin hook would open a write transaction,
        # inside which SQLite refuses to checkpoint. Taken before writes are paused, so
        # that waiting for the pool can never hold up the writers.
        connection: Any = self._engine.raw_connection()
        try:
            if _passive(connection) >= RESTART_FRAMES:
                with sqlite_writes_paused(self._database):
                    _passive(connection)
        finally:
            connection.close()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.checkpoint()
            except Exception:
                # The database file is unreachable, say: the commits stay in the WAL, and
                # the next checkpoint copies them.
                logger.exception("WAL checkpoint failed; retrying in %s s", self._interval)


def _passive(connection: Any) -> int:
    """One PASSIVE checkpoint; the number of frames in the WAL."""
    cursor = connection.cursor()
    try:
        _busy, frames, _copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        cursor.close()
    return int(frames)
