"""SQLite's WAL checkpoints, run by a background thread instead of inside commits.

A checkpoint first flushes the WAL to disk (so relaxed commits are on disk at most
`interval` seconds after they return), then copies the WAL's pages into the database
file and flushes that. It is PASSIVE: it neither waits for nor blocks readers and
writers, so its copying and flushing do not delay deliveries.

Once a checkpoint has copied everything, the next transaction starts the WAL from its
beginning again, so the file is rewritten in place. Under writes that never pause that
moment does not come, and the WAL grows until writes pause; `journal_size_limit` then
truncates it back (see `bot.store.engine`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0


class WalCheckpointer:
    """Checkpoints one SQLite database every `interval` seconds, from its own thread."""

    def __init__(self, database: str, *, interval: float = CHECKPOINT_SECONDS) -> None:
        self._database = database
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="promobot-wal-checkpoint", daemon=True
        )
        # Its own connection, outside SQLAlchemy: the engines' begin hook would open a
        # write transaction, inside which SQLite refuses to checkpoint.
        self._connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start checkpointing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then checkpoint once more (nothing relaxed is left unflushed)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self.checkpoint()
        self._connection.close()

    def checkpoint(self) -> None:
        """Flush the WAL and copy it into the database file now."""
        with self._lock:
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.checkpoint()
            except Exception:
                # The database file is unreachable, say: the commits stay in the WAL, and
                # the next checkpoint copies them.
                logger.exception("WAL checkpoint failed; retrying in %s s", self._interval)
