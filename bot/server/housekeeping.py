"""Periodic work: `Tick` events for the workflows, and pruning of old done events.

A tick's delivery id is its due time rounded down to the tick interval, so replicas
sharing a database store each tick once.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable

from bot.server.settings import ServiceSettings
from bot.store.base import EventStore
from bot.webhooks.events import Tick, event_to_payload

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0


def due_tick(now: float, interval: float) -> Tick:
    """The latest tick due at `now`: its time is a multiple of the interval."""
    due = math.floor(now / interval) * interval
    return Tick(now=dt.datetime.fromtimestamp(due, tz=dt.UTC))


class Housekeeper:
    """One thread that stores due ticks and prunes done events."""

    def __init__(
        self,
        store: EventStore,
        settings: ServiceSettings,
        on_added: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._settings = settings
        self._on_added = on_added
        self._clock = clock
        self._stopping = threading.Event()
        self._last_prune = -math.inf
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name="promobot-housekeeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> None:
        """Store the due tick (once per interval) and prune when an hour has passed."""
        now = self._clock()
        if self._settings.tick_seconds > 0:
            tick = due_tick(now, self._settings.tick_seconds)
            delivery_id = str(int(tick.now.timestamp()))
            if self._store.add(
                delivery_id, "tick", tick.kind, tick.serialisation_key, event_to_payload(tick)
            ):
                self._on_added()
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            cutoff = now - self._settings.retention_days * 86400
            pruned = self._store.prune(dt.datetime.fromtimestamp(cutoff, tz=dt.UTC))
            if pruned:
                logger.info(
                    "pruned %d done events older than %s days",
                    pruned,
                    self._settings.retention_days,
                )
            self._last_prune = now

    def _run(self) -> None:
        interval = self._settings.tick_seconds or PRUNE_EVERY_SECONDS
        while True:
            try:
                self.run_once()
            except Exception:
                logger.exception("housekeeping failed; trying again in %.0f s", interval)
            # Wake just after the next multiple of the interval, so no tick is skipped.
            now = self._clock()
            if self._stopping.wait(interval - now % interval + 0.01):
                return
