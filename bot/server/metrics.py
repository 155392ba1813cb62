"""Prometheus metrics of one service instance, in a registry of its own (not the global one),
so that several apps in one process (tests, benchmarks) never share counters."""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

logger = logging.getLogger(__name__)


class DeliveryOutcome(enum.StrEnum):
    """What became of a webhook delivery."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    VALIDATED = "validated"
    UNAUTHENTICATED = "unauthenticated"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"


class ProcessingOutcome(enum.StrEnum):
    """What became of one attempt at processing an event."""

    DONE = "done"
    RETRY = "retry"
    PARKED = "parked"
    LOST = "lost"


class ServiceMetrics:
    """The service's counters; `record_verdict` is for the propose workflow."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._deliveries = Counter(
            "promobot_webhook_deliveries",
            "Webhook deliveries by source, event and outcome.",
            ["source", "event", "outcome"],
            registry=self.registry,
        )
        self._queue_depth = Gauge(
            "promobot_event_queue_depth",
            "Events waiting or running in the store (all replicas).",
            registry=self.registry,
        )
        self._processing = Histogram(
            "promobot_event_processing_seconds",
            "Time a worker spent on one attempt at an event, by kind and outcome.",
            ["kind", "outcome"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self._promotions = Counter(
            "promobot_promotions",
            "Promotion decisions by verdict.",
            ["verdict"],
            registry=self.registry,
        )
        self._foreign = Counter(
            "promobot_foreign_events_ignored",
            "Events from repositories the bot does not serve, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._conflicts = Counter(
            "promobot_claim_conflicts",
            "Registry events proposed nowhere: two repositories claim the model.",
            registry=self.registry,
        )
        self._own_writes = Counter(
            "promobot_own_writes_ignored",
            "Events caused by the bot's own statuses, check runs, comments and labels, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._user_errors = Counter(
            "promobot_user_errors",
            "Events ended by a user's mistake (reported once, not retried), by kind.",
            ["kind"],
            registry=self.registry,
        )

    def watch_queue_depth(self, depth: Callable[[], int]) -> None:
        """Read the queue depth from `depth` at every scrape."""

        def read() -> float:
            try:
                return float(depth())
            except Exception:
                logger.warning("queue depth unavailable: the event store cannot be reached")
                return math.nan

        self._queue_depth.set_function(read)

    def record_delivery(self, source: str, event: str, outcome: DeliveryOutcome) -> None:
        """Count one delivery."""
        self._deliveries.labels(source=source, event=event, outcome=outcome.value).inc()

    def record_processing(self, kind: str, outcome: ProcessingOutcome, seconds: float) -> None:
        """Observe one processing attempt."""
        self._processing.labels(kind=kind, outcome=outcome.value).observe(seconds)

    def record_foreign_event(self, kind: str) -> None:
        """Count one event from a repository the bot does not serve, ignored."""
        self._foreign.labels(kind=kind).inc()

    def record_claim_conflict(self) -> None:
        """Count one registry event no repository could take: two claim the model."""
        self._conflicts.inc()

    def record_own_write(self, kind: str) -> None:
        """Count one event the bot caused itself, dropped before any work."""
        self._own_writes.labels(kind=kind).inc()

    def record_user_error(self, kind: str) -> None:
        """Count one event ended by a user's mistake."""
        self._user_errors.labels(kind=kind).inc()

    def record_verdict(self, verdict: str) -> None:
        """Count one promotion decision (`promote`, `reject`, ...)."""
        self._promotions.labels(verdict=str(verdict)).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
