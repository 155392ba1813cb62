"""The SQLAlchemy event store, on SQLite (one replica) or PostgreSQL (several replicas).

A claim is one `UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING ...` statement. On
PostgreSQL the inner select takes `FOR UPDATE SKIP LOCKED`, so replicas racing for work
skip each other's rows instead of queueing; on SQLite the statement runs inside
`BEGIN IMMEDIATE`, which serialises writers. The select only picks an event whose key has
no earlier open event and no other live claim: one event per key at a time, in order.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    and_,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.base import EventState, StoredEvent
from bot.store.decisions import SqlDecisionLog, SqlStateStore
from bot.store.engine import open_engine
from bot.store.group_commit import GroupCommit
from bot.store.schema import events, metadata

Clock = Callable[[], float]
"""Unix seconds; injected so tests can move time without sleeping."""

PENDING, RUNNING = EventState.PENDING.value, EventState.RUNNING.value


def is_open(column: Any) -> ColumnElement[bool]:
    """`state IN ('pending', 'running')` with literals, so the partial indexes apply."""
    open_states: list[ColumnElement[str]] = [
        literal_column(f"'{PENDING}'"),
        literal_column(f"'{RUNNING}'"),
    ]
    return column.in_(open_states)  # type: ignore[no-any-return]


class SqlEventStore:
    """`EventStore` on SQLAlchemy, plus the `decisions` and `state` tables."""

    def __init__(self, url: str, *, clock: Clock = time.time, pool_size: int = 10) -> None:
        self.url = url
        self._clock = clock
        self.engine: Engine = open_engine(url, durable=True, pool_size=pool_size)
        metadata.create_all(self.engine)
        self._relaxed = open_engine(url, durable=False, pool_size=pool_size)
        self._group_commit = GroupCommit(self.engine, _insert_event)
        self.decisions = SqlDecisionLog(self.engine, clock)
        self.state = SqlStateStore(self.engine, clock)

    def close(self) -> None:
        """Finish pending inserts and release the connections."""
        self._group_commit.close()
        self._relaxed.dispose()
        self.engine.dispose()

    def add(
        self, delivery_id: str, source: str, kind: str, key: str, payload: dict[str, Any]
    ) -> bool:
        """Store a new pending event; False (and nothing stored) if the id was seen before."""
        now = self._clock()
        return self._group_commit.insert(
            {
                "delivery_id": delivery_id,
                "source": source,
                "kind": kind,
                "key": key,
                "payload": payload,
                "state": PENDING,
                "attempts": 0,
                "created_at": now,
                "available_at": now,
            }
        )

    def claim(self, worker: str, lease_seconds: float) -> StoredEvent | None:
        """The oldest claimable event, now running under a lease; None when there is none."""
        now = self._clock()
        candidate = _claimable(now).scalar_subquery()
        statement = (
            update(events)
            .where(events.c.id == candidate)
            .values(
                state=RUNNING,
                attempts=events.c.attempts + 1,
                lease_until=now + lease_seconds,
                claim_token=uuid.uuid4().hex,
                claimed_by=worker,
            )
            .returning(*events.c)
        )
        with self._relaxed.begin() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _to_event(row)

    def extend_lease(self, event: StoredEvent, lease_seconds: float) -> bool:
        """Keep a running claim alive; False if the claim was lost."""
        return self._update_claim(event, lease_until=self._clock() + lease_seconds)

    def complete(self, event: StoredEvent) -> bool:
        """Mark a claimed event done; False if the claim was lost (lease expired)."""
        return self._update_claim(
            event,
            state=EventState.DONE.value,
            finished_at=self._clock(),
            lease_until=None,
            claim_token=None,
        )

    def fail(self, event: StoredEvent, error: str, retry_at: dt.datetime | None) -> bool:
        """Record a failed attempt: pending again from `retry_at`, or parked when None."""
        if retry_at is None:
            return self._update_claim(
                event,
                state=EventState.PARKED.value,
                finished_at=self._clock(),
                last_error=error,
                lease_until=None,
                claim_token=None,
            )
        return self._update_claim(
            event,
            state=PENDING,
            available_at=retry_at.timestamp(),
            last_error=error,
            lease_until=None,
            claim_token=None,
        )

    def get(self, event_id: int) -> StoredEvent | None:
        """One event by id."""
        with self.engine.connect() as connection:
            row = connection.execute(select(events).where(events.c.id == event_id)).first()
        return None if row is None else _to_event(row)

    def list_events(self, state: EventState | None = None, limit: int = 100) -> list[StoredEvent]:
        """Events, newest first, optionally of one state."""
        query = select(events).order_by(events.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(events.c.state == state.value)
        with self.engine.connect() as connection:
            return [_to_event(row) for row in connection.execute(query)]

    def replay(self, event_id: int) -> bool:
        """Make a parked event pending again with fresh attempts; False if not parked."""
        return self._replay(events.c.id == event_id) == 1

    def replay_parked(self) -> int:
        """Replay every parked event; how many."""
        return self._replay(events.c.state == EventState.PARKED.value)

    def prune(self, finished_before: dt.datetime) -> int:
        """Delete done events finished before the time (their delivery ids are forgotten)."""
        statement = events.delete().where(
            events.c.state == EventState.DONE.value,
            events.c.finished_at < finished_before.timestamp(),
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount

    def queue_depth(self) -> int:
        """Events waiting or running."""
        query = select(func.count()).select_from(events).where(is_open(events.c.state))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def _update_claim(self, event: StoredEvent, **values: Any) -> bool:
        statement = (
            update(events)
            .where(
                events.c.id == event.id,
                events.c.claim_token == event.claim_token,
                events.c.state == RUNNING,
            )
            .values(**values)
        )
        with self._relaxed.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def _replay(self, condition: ColumnElement[bool]) -> int:
        statement = (
            update(events)
            .where(condition, events.c.state == EventState.PARKED.value)
            .values(state=PENDING, attempts=0, available_at=self._clock(), finished_at=None)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount


def _insert_event(connection: Connection, values: dict[str, Any]) -> bool:
    dialect = connection.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(events)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
        .returning(events.c.id)
    )
    return connection.execute(statement).first() is not None


def _claimable(now: float) -> Any:
    """Select the id of the oldest event a worker may claim now."""
    earlier = events.alias("earlier")
    held = events.alias("held")
    has_earlier_open = exists().where(
        earlier.c.key == events.c.key, earlier.c.id < events.c.id, is_open(earlier.c.state)
    )
    # A replayed older event must not overtake a newer one that is already running.
    is_held_elsewhere = exists().where(
        held.c.key == events.c.key,
        held.c.id != events.c.id,
        is_open(held.c.state),
        held.c.state == RUNNING,
        held.c.lease_until >= now,
    )
    is_due = or_(
        and_(events.c.state == PENDING, events.c.available_at <= now),
        and_(events.c.state == RUNNING, events.c.lease_until < now),
    )
    return (
        select(events.c.id)
        .where(is_open(events.c.state), is_due, ~has_earlier_open, ~is_held_elsewhere)
        .order_by(events.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _to_event(row: Row[Any]) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        delivery_id=row.delivery_id,
        source=row.source,
        kind=row.kind,
        key=row.key,
        payload=row.payload,
        state=EventState(row.state),
        attempts=row.attempts,
        created_at=_time(row.created_at),
        available_at=_time(row.available_at),
        lease_until=None if row.lease_until is None else _time(row.lease_until),
        claim_token=row.claim_token,
        last_error=row.last_error,
        finished_at=None if row.finished_at is None else _time(row.finished_at),
    )


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
