"""Group commit: deliveries arriving together are stored in one transaction.

A writer thread takes every insert waiting at that moment and commits them together, so
a commit's cost (a disk flush, on a durable engine: milliseconds) is paid once per batch
instead of once per delivery, and each caller still returns only once its row is
committed. SQLite has one writer at a time anyway; on PostgreSQL several writers overlap
their round trips and flushes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine

from bot.store.engine import is_disconnect

InsertBatch = Callable[[Connection, list[dict[str, Any]]], list[bool]]
"""Inserts rows on the connection; per row, True when it was stored."""

_STOP = None


class GroupCommit:
    """Runs inserts from many threads in shared transactions; `insert` blocks until committed."""

    def __init__(
        self, engine: Engine, insert: InsertBatch, *, writers: int = 1, max_batch: int = 256
    ) -> None:
        self._engine = engine
        self._insert = insert
        self._writers = writers
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], Future[bool]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def insert(self, values: dict[str, Any]) -> bool:
        """Store one row with the next batch; True when stored, False when it was a duplicate."""
        return self.submit(values).result()

    def submit(self, values: dict[str, Any]) -> Future[bool]:
        """Queue one row for the next batch; the future resolves once it is committed."""
        future: Future[bool] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the event store is closed")
            if not self._threads:
                for index in range(self._writers):
                    thread = threading.Thread(
                        target=self._run, name=f"promobot-group-commit-{index}", daemon=True
                    )
                    thread.start()
                    self._threads.append(thread)
            self._queue.put((values, future))
        return future

    def close(self) -> None:
        """Finish the waiting inserts, then stop the writers."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
            for _ in threads:
                self._queue.put(_STOP)
        for thread in threads:
            thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                batch.append(more)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[tuple[dict[str, Any], Future[bool]]]) -> None:
        try:
            stored = self._insert_batch(batch)
        except Exception as error:
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            # One bad row must not fail its neighbours: retry them one by one.
            for entry in batch:
                self._write([entry])
            return
        for (_, future), was_stored in zip(batch, stored, strict=True):
            future.set_result(was_stored)

    def _insert_batch(self, batch: list[tuple[dict[str, Any], Future[bool]]]) -> list[bool]:
        rows = [values for values, _ in batch]
        try:
            with self._engine.begin() as connection:
                return self._insert(connection, rows)
        except Exception as error:
            if not is_disconnect(error):
                raise
        # A pooled connection had died (database restarted): once more on a fresh one.
        with self._engine.begin() as connection:
            return self._insert(connection, rows)
