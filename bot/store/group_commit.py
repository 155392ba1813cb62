"""Group commit: deliveries arriving together are stored in one durable transaction.

A durable commit costs a disk flush (milliseconds). One writer thread takes every insert
waiting at that moment and commits them together, so the flush is paid once per batch
instead of once per delivery, and each caller still returns only once its row is on disk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine

Insert = Callable[[Connection, dict[str, Any]], bool]
"""Executes one insert on the connection; True when a row was stored."""

_STOP = None


class GroupCommit:
    """Runs inserts from many threads in shared transactions; `insert` blocks until durable."""

    def __init__(self, engine: Engine, insert: Insert, *, max_batch: int = 256) -> None:
        self._engine = engine
        self._insert = insert
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], Future[bool]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def insert(self, values: dict[str, Any]) -> bool:
        """Store one row with the next batch; True when stored, False when it was a duplicate."""
        future: Future[bool] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the event store is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="promobot-group-commit", daemon=True
                )
                self._thread.start()
            self._queue.put((values, future))
        return future.result()

    def close(self) -> None:
        """Finish the waiting inserts, then stop the writer."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._queue.put(_STOP)
        if thread is not None:
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
            with self._engine.begin() as connection:
                stored = [self._insert(connection, values) for values, _ in batch]
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
