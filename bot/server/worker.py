"""Worker threads: claim an event, run the handler, complete it or schedule a retry.

A heartbeat thread renews the leases of the events being handled, so a slow handler
keeps its claim while a crashed replica's claims expire and are retried elsewhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable

from bot.server.handlers import Handler, ParkEvent
from bot.server.metrics import ProcessingOutcome, ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.store.base import EventStore, StoredEvent

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 8000


def retry_delay(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds before retrying after failed attempt number `attempt` (1, 2, ...)."""
    return float(min(max_seconds, base_seconds * 2 ** max(0, attempt - 1)))


def next_attempt_at(
    attempts: int, settings: ServiceSettings, now: dt.datetime
) -> dt.datetime | None:
    """When to retry after `attempts` failed attempts, or None: park it."""
    if attempts >= settings.max_attempts:
        return None
    delay = retry_delay(attempts, settings.retry_base_seconds, settings.retry_max_seconds)
    return now + dt.timedelta(seconds=delay)


class WorkerPool:
    """`settings.workers` threads processing the store's events with one handler."""

    def __init__(
        self,
        store: EventStore,
        handler: Handler,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._handler = handler
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._name = f"{socket.gethostname()}:{os.getpid()}"
        self._stopping = threading.Event()
        self._signal = threading.Condition()
        self._signals = 0
        self._idle_workers = 0
        self._active: dict[int, StoredEvent] = {}
        self._active_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the workers and the heartbeat."""
        for index in range(self._settings.workers):
            self._spawn(f"promobot-worker-{index}", functools.partial(self._work, index))
        self._spawn("promobot-heartbeat", self._heartbeat)

    def stop(self, timeout: float = 30.0) -> None:
        """Let running handlers finish, then stop every thread."""
        self._stopping.set()
        with self._signal:
            self._signal.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wake(self) -> None:
        """Tell an idle worker that an event was stored."""
        with self._signal:
            # One wake-up per idle worker at most: more would only claim nothing.
            if self._signals < self._idle_workers:
                self._signals += 1
                self._signal.notify()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self, index: int) -> None:
        worker = f"{self._name}/{index}"
        event: StoredEvent | None = None
        while not self._stopping.is_set():
            try:
                if event is None:
                    event = self._store.claim(worker, self._settings.lease_seconds)
                if event is None:
                    self._idle()
                else:
                    event = self._handle(event, worker)[1]
            except Exception:
                # The database is unreachable, say: the claim (if any) expires and is
                # retried, by this worker or another replica.
                logger.exception("worker %s cannot reach the event store; retrying", worker)
                event = None
                self._stopping.wait(self._settings.poll_seconds)
        if event is not None:
            # Claimed along with the last completion: handle it rather than leave it to
            # wait for its lease to expire; claim nothing more.
            try:
                self._handle(event, None)
            except Exception:
                logger.exception("worker %s: event %s left to its lease", worker, event.id)

    def _idle(self) -> None:
        with self._signal:
            self._idle_workers += 1
            if self._signals == 0:
                self._signal.wait(self._settings.poll_seconds)
            self._idle_workers -= 1
            self._signals = max(0, self._signals - 1)

    def process(self, event: StoredEvent) -> ProcessingOutcome:
        """Handle one claimed event and record the outcome in the store."""
        return self._handle(event, None)[0]

    def _handle(
        self, event: StoredEvent, worker: str | None
    ) -> tuple[ProcessingOutcome, StoredEvent | None]:
        """Run the handler; with a `worker`, also claim its next event in the same commit."""
        if event.attempts > self._settings.max_attempts:
            # Its earlier claims expired without an outcome: the process handling it died.
            error = f"claimed {event.attempts - 1} times without finishing (worker lost)"
            return self._failed(event, error, 0.0, park=True), None
        started = time.perf_counter()
        with self._active_lock:
            self._active[event.id] = event
        try:
            self._handler(event)
        except ParkEvent as parked:
            logger.warning("event %s (delivery %s) parked: %s", event.id, event.delivery_id, parked)
            return self._failed(event, str(parked), time.perf_counter() - started, park=True), None
        except Exception as failure:
            logger.exception(
                "event %s (delivery %s, %s) failed on attempt %d",
                event.id,
                event.delivery_id,
                event.kind,
                event.attempts,
            )
            detail = "".join(traceback.format_exception(failure))[-MAX_ERROR_CHARS:]
            return self._failed(event, detail, time.perf_counter() - started, park=False), None
        finally:
            with self._active_lock:
                self._active.pop(event.id, None)
        return self._completed(event, time.perf_counter() - started, worker)

    def _completed(
        self, event: StoredEvent, seconds: float, worker: str | None
    ) -> tuple[ProcessingOutcome, StoredEvent | None]:
        if worker is None:
            completed, following = self._store.complete(event), None
        else:
            lease = self._settings.lease_seconds
            completed, following = self._store.complete_and_claim(event, worker, lease)
        outcome = ProcessingOutcome.DONE
        if not completed:
            logger.warning("event %s: lease lost before completion", event.id)
            outcome = ProcessingOutcome.LOST
        self._metrics.record_processing(event.kind, outcome, seconds)
        return outcome, following

    def _failed(
        self, event: StoredEvent, error: str, seconds: float, *, park: bool
    ) -> ProcessingOutcome:
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        retry_at = None if park else next_attempt_at(event.attempts, self._settings, now)
        outcome = ProcessingOutcome.PARKED if retry_at is None else ProcessingOutcome.RETRY
        if not self._store.fail(event, error, retry_at):
            logger.warning("event %s: lease lost before recording its failure", event.id)
            outcome = ProcessingOutcome.LOST
        elif retry_at is None:
            logger.error(
                "event %s (delivery %s) parked after %d attempts; "
                "replay with `promobot events replay %s`",
                event.id,
                event.delivery_id,
                event.attempts,
                event.id,
            )
        self._metrics.record_processing(event.kind, outcome, seconds)
        return outcome

    def _heartbeat(self) -> None:
        interval = self._settings.lease_seconds / 3
        while not self._stopping.wait(interval):
            with self._active_lock:
                active = list(self._active.values())
            for event in active:
                try:
                    if not self._store.extend_lease(event, self._settings.lease_seconds):
                        logger.warning("event %s: lease lost while handling it", event.id)
                except Exception:
                    logger.exception("event %s: cannot renew its lease", event.id)
