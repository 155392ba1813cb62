"""Workers: every accepted event is handled, retried with backoff, parked, kept in order."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.server.metrics import ProcessingOutcome, ServiceMetrics
from bot.server.worker import WorkerPool, next_attempt_at, retry_delay
from bot.store.base import EventState
from bot.store.sql import SqlEventStore
from tests.server.recording import Recorder
from tests.server.support import (
    LiveService,
    github_delivery,
    live_service,
    make_settings,
    push_payload,
    wait_until,
)


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[LiveService]:
    with live_service(database_url, tmp_path, max_attempts=3) as live:
        yield live


def send_push(service: LiveService, delivery_id: str, ref: str = "refs/heads/main") -> None:
    body, headers = github_delivery("push", push_payload(ref=ref), delivery_id=delivery_id)
    response = service.client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text


def test_a_failing_handler_is_retried_until_it_succeeds(
    service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    """A transient failure (GitHub 502, say) costs a retry, not the event."""
    caplog.set_level(logging.ERROR)
    send_push(service, "flaky-1")
    wait_until(
        lambda: service.store.list_events(EventState.DONE) != [], what="the third attempt to finish"
    )
    assert service.delivered() == ["flaky-1"]
    assert service.recorder.executions() == [("flaky-1", 1), ("flaky-1", 2), ("flaky-1", 3)]
    stored = service.store.list_events()[0]
    assert (stored.state, stored.attempts) == (EventState.DONE, 3)
    assert "flaky-1" in caplog.text
    assert "HandlerFailure" in caplog.text


def test_an_event_that_keeps_failing_is_parked_with_its_error(service: LiveService) -> None:
    """After max_attempts the event stops blocking its key and waits for a replay."""
    send_push(service, "always-fail-1")
    send_push(service, "after-1")
    wait_until(lambda: service.delivered() == ["after-1"], what="the next event of the key")
    [parked] = service.store.list_events(EventState.PARKED)
    assert (parked.delivery_id, parked.attempts) == ("always-fail-1", 3)
    assert parked.last_error is not None
    assert "asked to fail always-fail-1 on attempt 3" in parked.last_error
    metrics = service.client.get("/metrics").text
    assert 'promobot_event_processing_seconds_count{kind="pushed",outcome="parked"} 1.0' in metrics
    assert 'promobot_event_processing_seconds_count{kind="pushed",outcome="retry"} 2.0' in metrics


def test_events_of_one_key_are_handled_in_arrival_order(service: LiveService) -> None:
    """Two pushes to one branch must be seen in the order GitHub sent them."""
    sent = []
    for index in range(8):
        for ref in ("refs/heads/main", "refs/heads/dev"):
            delivery = f"{ref[-3:]}-{index}"
            send_push(service, delivery, ref=ref)
            sent.append((delivery, ref))
    wait_until(lambda: len(service.delivered()) == len(sent), what="every push")
    for ref in ("refs/heads/main", "refs/heads/dev"):
        key = f"ref:octo/models@{ref}"
        handled = [row[0] for row in service.recorder.effects() if row[2] == key]
        assert handled == [delivery for delivery, sent_ref in sent if sent_ref == ref]


def test_a_slow_handler_keeps_its_lease_alive(database_url: str, tmp_path: Path) -> None:
    """A handler outliving its lease is renewed by the heartbeat, not run twice."""
    with live_service(database_url, tmp_path, work_seconds=1.0, lease_seconds=0.3) as live:
        send_push(live, "slow-1")
        wait_until(lambda: live.store.list_events(EventState.DONE) != [], what="the slow event")
        assert live.recorder.executions() == [("slow-1", 1)]


def test_an_event_whose_workers_keep_dying_is_parked(database_url: str, tmp_path: Path) -> None:
    """An event that crashes the process every time must not crash it forever."""
    now = [1_800_000_000.0]
    store = SqlEventStore(database_url, clock=lambda: now[0])
    settings = make_settings(database_url, tmp_path, max_attempts=2, lease_seconds=10.0)
    recorder = Recorder(tmp_path / "effects.db")
    pool = WorkerPool(store, recorder, settings, ServiceMetrics(), clock=lambda: now[0])
    store.add("poison", "github", "pushed", "k", {})
    for _ in range(3):
        event = store.claim("dying-worker", settings.lease_seconds)
        now[0] += 11
    assert event is not None
    assert event.attempts == 3
    assert pool.process(event) is ProcessingOutcome.PARKED
    [parked] = store.list_events(EventState.PARKED)
    assert "worker lost" in (parked.last_error or "")
    assert recorder.executions() == []
    store.close()


@pytest.mark.parametrize(
    ("attempt", "delay"), [(1, 2.0), (2, 4.0), (3, 8.0), (9, 512.0), (10, 600.0), (30, 600.0)]
)
def test_retry_delays_double_up_to_a_cap(attempt: int, delay: float) -> None:
    assert retry_delay(attempt, 2.0, 600.0) == delay


def test_the_last_allowed_attempt_parks(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite:///x.db", tmp_path, max_attempts=3, retry_base_seconds=1.0, retry_max_seconds=60
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert next_attempt_at(2, settings, now) == now + dt.timedelta(seconds=2)
    assert next_attempt_at(3, settings, now) is None
