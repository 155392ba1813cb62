"""The event store's contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from bot.store.base import EventState, StoredEvent
from bot.store.schema import events
from bot.store.sql import SqlEventStore

LEASE = 30.0


class FakeClock:
    """Unix seconds that move only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def at(self, seconds_from_now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now + seconds_from_now, tz=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[SqlEventStore]:
    store = SqlEventStore(database_url, clock=clock)
    yield store
    store.close()


def add(store: SqlEventStore, delivery: str, key: str = "k1", **payload: Any) -> None:
    assert store.add(delivery, "github", "pushed", key, {"delivery": delivery, **payload})


def claim(store: SqlEventStore) -> StoredEvent | None:
    return store.claim("test-worker", LEASE)


def claimed(store: SqlEventStore) -> StoredEvent:
    event = claim(store)
    assert event is not None
    return event


def test_a_delivery_id_is_stored_once_per_source(store: SqlEventStore) -> None:
    """Redelivered webhooks must be acknowledged without being processed twice."""
    assert store.add("d1", "github", "pushed", "k", {"n": 1})
    assert not store.add("d1", "github", "pushed", "k", {"n": 2})
    assert store.add("d1", "mlflow", "model_version_created", "k2", {"n": 3})
    assert [e.payload for e in store.list_events()] == [{"n": 3}, {"n": 1}]


def test_a_claim_takes_the_oldest_event_under_a_lease(
    store: SqlEventStore, clock: FakeClock
) -> None:
    """Workers take work in arrival order, and the claim says until when it is theirs."""
    add(store, "d1", key="a")
    add(store, "d2", key="b")
    event = claimed(store)
    assert (event.delivery_id, event.state, event.attempts) == ("d1", EventState.RUNNING, 1)
    assert event.lease_until == clock.at(LEASE)
    assert event.claim_token
    assert claimed(store).delivery_id == "d2"
    assert claim(store) is None


def test_events_with_one_key_are_never_claimed_together(store: SqlEventStore) -> None:
    """Work for one (model, environment) is serialised; other keys proceed meanwhile."""
    add(store, "d1", key="model:churn@production")
    add(store, "d2", key="model:churn@production")
    add(store, "d3", key="model:fraud@production")
    first = claimed(store)
    assert claimed(store).delivery_id == "d3"
    assert claim(store) is None
    assert [e.state for e in store.list_events()] == [
        EventState.RUNNING,
        EventState.WAITING,
        EventState.RUNNING,
    ]
    assert store.complete(first)
    assert claimed(store).delivery_id == "d2"


def test_the_database_refuses_a_second_head_for_a_key(store: SqlEventStore) -> None:
    """Whatever a future change gets wrong, two events of one key can never both run."""
    add(store, "d1")
    add(store, "d2")
    claimed(store)
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            update(events).where(events.c.delivery_id == "d2").values(state="pending")
        )


def test_a_retried_event_keeps_later_events_of_its_key_waiting(
    store: SqlEventStore, clock: FakeClock
) -> None:
    """Arrival order holds across retries: the next event of a key waits for the retry."""
    add(store, "d1")
    add(store, "d2")
    first = claimed(store)
    assert store.fail(first, "boom", clock.at(10))
    assert claim(store) is None
    clock.advance(10)
    again = claimed(store)
    assert (again.delivery_id, again.attempts, again.last_error) == ("d1", 2, "boom")


def test_an_expired_lease_is_claimed_again_and_the_old_claim_is_void(
    store: SqlEventStore, clock: FakeClock
) -> None:
    """A worker that died mid-event must not lose the event, nor finish it after a retake."""
    add(store, "d1")
    lost = claimed(store)
    clock.advance(LEASE - 1)
    assert claim(store) is None
    clock.advance(2)
    retaken = claimed(store)
    assert (retaken.delivery_id, retaken.attempts) == ("d1", 2)
    assert not store.complete(lost)
    assert not store.extend_lease(lost, LEASE)
    assert store.complete(retaken)
    assert store.get(retaken.id).state is EventState.DONE  # type: ignore[union-attr]


def test_extending_a_lease_keeps_the_claim(store: SqlEventStore, clock: FakeClock) -> None:
    """A slow handler that renews its lease is not interrupted by a second worker."""
    add(store, "d1")
    event = claimed(store)
    clock.advance(LEASE - 1)
    assert store.extend_lease(event, LEASE)
    clock.advance(LEASE - 1)
    assert claim(store) is None
    assert store.complete(event)


def test_failing_without_a_retry_time_parks_the_event(store: SqlEventStore) -> None:
    """Events that keep failing stop blocking their key and wait for a person."""
    add(store, "d1")
    add(store, "d2")
    event = claimed(store)
    assert store.fail(event, "Traceback ...\nValueError: bad", None)
    parked = store.list_events(EventState.PARKED)
    assert [(e.delivery_id, e.last_error) for e in parked] == [
        ("d1", "Traceback ...\nValueError: bad")
    ]
    assert parked[0].finished_at is not None
    assert claimed(store).delivery_id == "d2"


def test_replay_makes_a_parked_event_pending_with_fresh_attempts(store: SqlEventStore) -> None:
    """`promobot events replay ID` retries a parked event from scratch."""
    add(store, "d1")
    add(store, "d2")
    event = claimed(store)
    store.fail(event, "boom", None)
    second = claimed(store)
    assert not store.replay(second.id)
    store.complete(second)
    assert store.replay(event.id)
    assert not store.replay(event.id)
    again = claimed(store)
    assert (again.delivery_id, again.attempts) == ("d1", 1)


def test_a_replayed_event_waits_while_its_key_is_running(store: SqlEventStore) -> None:
    """An old event brought back must not run beside a newer one of the same key."""
    add(store, "d1")
    add(store, "d2")
    store.fail(claimed(store), "boom", None)
    running = claimed(store)
    assert running.delivery_id == "d2"
    store.replay_parked()
    assert claim(store) is None
    store.complete(running)
    assert claimed(store).delivery_id == "d1"


def test_replay_all_parked_counts_them(store: SqlEventStore) -> None:
    """`promobot events replay --all-parked` says how many it replayed."""
    for delivery in ("d1", "d2", "d3"):
        add(store, delivery, key=delivery)
    for _ in range(2):
        store.fail(claimed(store), "boom", None)
    assert store.replay_parked() == 2
    assert store.list_events(EventState.PARKED) == []
    assert store.queue_depth() == 3


def test_queue_depth_counts_waiting_and_running_events(store: SqlEventStore) -> None:
    """The queue-depth gauge shows work not yet finished, whatever its state."""
    for delivery in ("d1", "d2", "d3"):
        add(store, delivery, key=delivery)
    store.complete(claimed(store))
    claimed(store)
    assert store.queue_depth() == 2


def test_prune_forgets_only_old_done_events(store: SqlEventStore, clock: FakeClock) -> None:
    """The table stays small, but open and parked events are never deleted."""
    for delivery in ("d1", "d2", "d3"):
        add(store, delivery, key=delivery)
    store.complete(claimed(store))
    store.fail(claimed(store), "boom", None)
    clock.advance(100)
    assert store.prune(clock.at(-50)) == 1
    assert sorted(e.delivery_id for e in store.list_events()) == ["d2", "d3"]
    assert store.add("d1", "github", "pushed", "d1", {})


def test_listing_filters_by_state_and_limits(store: SqlEventStore) -> None:
    """`promobot events list` shows the newest first."""
    for delivery in ("d1", "d2", "d3"):
        add(store, delivery, key=delivery)
    store.complete(claimed(store))
    assert [e.delivery_id for e in store.list_events(limit=2)] == ["d3", "d2"]
    assert [e.delivery_id for e in store.list_events(EventState.DONE)] == ["d1"]
    assert store.get(999) is None


def test_the_store_survives_reopening(database_url: str, clock: FakeClock) -> None:
    """Accepted events outlive the process that accepted them."""
    first = SqlEventStore(database_url, clock=clock)
    first.add("d1", "github", "pushed", "k", {"x": [1, "two", None]})
    first.close()
    second = SqlEventStore(database_url, clock=clock)
    assert claimed(second).payload == {"x": [1, "two", None]}
    second.ping()
    second.close()


def row(delivery: str, key: str, now: float) -> dict[str, Any]:
    """One delivery as group commit hands it to the batch insert."""
    return {
        "delivery_id": delivery,
        "source": "github",
        "kind": "pushed",
        "key": key,
        "payload": json.dumps({"delivery": delivery}),
        "now": now,
    }


def test_one_batch_queues_keys_in_order_and_skips_repeats(
    store: SqlEventStore, clock: FakeClock
) -> None:
    """Group commit stores many deliveries at once: heads, waits and duplicates stay right.

    Runs the batch insert directly, since which deliveries share a batch depends on timing.
    """
    add(store, "old", key="busy")
    batch = [
        row("old", "busy", clock.now),  # stored before: a redelivery
        row("a1", "a", clock.now),
        row("a1", "a", clock.now),  # the same delivery twice in one batch
        row("b1", "busy", clock.now),
        row("a2", "a", clock.now),
    ]
    with store.engine.begin() as connection:
        answers = store._insert_events(connection, batch)
    assert answers == [False, True, False, True, True]
    states = {e.delivery_id: e.state for e in store.list_events()}
    assert states == {
        "old": EventState.PENDING,
        "a1": EventState.PENDING,
        "b1": EventState.WAITING,
        "a2": EventState.WAITING,
    }
    assert [claimed(store).delivery_id for _ in range(2)] == ["old", "a1"]


def test_concurrent_submissions_are_each_answered(store: SqlEventStore) -> None:
    """Deliveries arriving together share commits, yet each learns whether it was new."""
    futures = [
        store.submit(f"d{index % 20}", "github", "pushed", f"k{index % 3}", {"i": index})
        for index in range(40)
    ]
    answers = [future.result(timeout=30) for future in futures]
    assert answers == [True] * 20 + [False] * 20
    assert store.queue_depth() == 20
