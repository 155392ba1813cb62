"""SQLite's WAL checkpoints, run by a background thread instead of inside commits.

A checkpoint first flushes the WAL to disk (so relaxed commits are on disk at most
`interval` seconds after they return), then copies the WAL's pages into the database
file and flushes that. It is PASSIVE: it neither waits for nor blocks readers and
writers, so its copying and flushing do not delay deliveries.

SQLite starts the WAL from its beginning again (rewriting the file in place instead of
making it longer) only when a transaction writes while everything in the WAL has been
copied and no reader uses it. Under steady writes that moment never comes by itself;
so once the WAL holds `RESTART_FRAMES` frames, this process's transactions are paused
(deliveries wait meanwhile, at most once per interval) while a RESTART checkpoint copies
the few frames written during the PASSIVE one, and a one-page write (the unchanged
`user_version`) starts the WAL over. A reader or writer in another process (the CLI,
say) makes it give up after `RESTART_WAIT_MS` rather than hold up deliveries; the next
checkpoint tries again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from bot.store.engine import sqlite_writes_paused

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
RESTART_FRAMES = 1000
"""About 4 MB of 4 kB pages (SQLite's own default checkpoint threshold)."""
RESTART_WAIT_MS = 100


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
        self._connection = sqlite3.connect(
            database, isolation_level=None, check_same_thread=False, timeout=0
        )
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
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
        """Checkpoint now; when the WAL has grown long, start it over too."""
        with self._lock:
            if self._passive() >= RESTART_FRAMES:
                with sqlite_writes_paused(self._database):
                    self._start_over()

    def _start_over(self) -> None:
        busy, _frames, _copied = self._connection.execute(
            "PRAGMA wal_checkpoint(RESTART)"
        ).fetchone()
        if busy:
            return
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return  # another process is writing: next time
        try:
            version = self._connection.execute("PRAGMA user_version").fetchone()[0]
            self._connection.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            self._connection.execute("COMMIT")

    def _passive(self) -> int:
        """One PASSIVE checkpoint; the number of frames the WAL held."""
        _busy, frames, _copied = self._connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        return int(frames)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.checkpoint()
            except Exception:
                # The database file is unreachable, say: the commits stay in the WAL, and
                # the next checkpoint copies them.
                logger.exception("WAL checkpoint failed; retrying in %s s", self._interval)
