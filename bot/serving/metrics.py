"""Request, error and latency counters per served version, and their Prometheus exposition."""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the latency histogram; `+Inf` is implied."""

RECENT_LATENCIES = 2048
"""Latencies kept for the p99: enough for a stable tail, bounded in memory."""


@dataclass(frozen=True)
class StatsSnapshot:
    """Counters of one version at one instant."""

    requests: int
    errors: int
    latency_sum: float
    bucket_counts: tuple[int, ...]
    p99_latency_ms: float | None


class VersionStats:
    """Thread-safe counters of one loaded version, from the moment it was loaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._errors = 0
        self._latency_sum = 0.0
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._recent: deque[float] = deque(maxlen=RECENT_LATENCIES)

    def record(self, seconds: float, *, failed: bool) -> None:
        """Count one prediction request and how long the version took."""
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            self._requests += 1
            self._errors += int(failed)
            self._latency_sum += seconds
            self._buckets[index] += 1
            self._recent.append(seconds)

    def snapshot(self) -> StatsSnapshot:
        """A consistent copy of the counters."""
        with self._lock:
            recent = sorted(self._recent)
            return StatsSnapshot(
                requests=self._requests,
                errors=self._errors,
                latency_sum=self._latency_sum,
                bucket_counts=tuple(self._buckets),
                p99_latency_ms=_p99_ms(recent),
            )


def _p99_ms(ordered: list[float]) -> float | None:
    if not ordered:
        return None
    rank = max(math.ceil(0.99 * len(ordered)) - 1, 0)
    return ordered[rank] * 1000.0


@dataclass(frozen=True)
class VersionSample:
    """Counters and traffic share of one version, labelled for the exposition."""

    model: str
    environment: str
    version: str
    share: int
    stats: StatsSnapshot


SampleSource = Callable[[], Iterable[VersionSample]]


class _ServingCollector:
    """Reads the samples when Prometheus text is generated, so counters are never copied."""

    def __init__(self, source: SampleSource) -> None:
        self._source = source

    def collect(self) -> Iterable[Any]:
        samples = list(self._source())
        labels = ["model", "environment", "version"]
        requests = CounterMetricFamily(
            "promobot_serving_requests", "Prediction requests per version.", labels=labels
        )
        errors = CounterMetricFamily(
            "promobot_serving_errors", "Prediction requests that failed.", labels=labels
        )
        share = GaugeMetricFamily(
            "promobot_serving_traffic_share", "Traffic percentage per version.", labels=labels
        )
        latency = HistogramMetricFamily(
            "promobot_serving_latency_seconds", "Time the version took per request.", labels=labels
        )
        for sample in samples:
            values = [sample.model, sample.environment, sample.version]
            requests.add_metric(values, sample.stats.requests)
            errors.add_metric(values, sample.stats.errors)
            share.add_metric(values, sample.share)
            latency.add_metric(values, _cumulative(sample.stats), sample.stats.latency_sum)
        return [requests, errors, share, latency]


def _cumulative(stats: StatsSnapshot) -> list[tuple[str, float]]:
    bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
    running = 0
    buckets: list[tuple[str, float]] = []
    for bound, count in zip(bounds, stats.bucket_counts, strict=True):
        running += count
        buckets.append((bound, float(running)))
    return buckets


def render_prometheus(source: SampleSource) -> bytes:
    """Prometheus text exposition of the samples `source()` returns."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServingCollector(source))
    body: bytes = generate_latest(registry)
    return body
