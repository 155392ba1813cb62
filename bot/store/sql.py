"""The SQLAlchemy event store, on SQLite (one replica) or PostgreSQL (several replicas).

A claim is one `UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING ...` statement over
the heads of the keys' queues (see `bot.store.statements`). On PostgreSQL the inner
select takes `FOR UPDATE SKIP LOCKED`, so replicas racing for work skip each other's rows
instead of queueing; on SQLite the statement runs inside `BEGIN IMMEDIATE`, which
serialises writers.

Deliveries are stored through group commit, on the relaxed engine by default or on the
durable one with `flush_deliveries`; a worker's progress marks use the relaxed engine
(see `bot.store.engine`). On SQLite, `WalCheckpointer` flushes and checkpoints the WAL.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from bot.store.base import EventState, StoredEvent
from bot.store.checkpoint import CHECKPOINT_SECONDS, WalCheckpointer
from bot.store.decisions import SqlDecisionLog
from bot.store.engine import open_engine
from bot.store.group_commit import GroupCommit
from bot.store.schema import events, metadata
from bot.store.statements import EVENT_COLUMNS, QUEUE_SQL, QueueSql

Clock = Callable[[], float]
"""Unix seconds; injected so tests can move time without sleeping."""

OPEN_STATES = ("pending", "running", "waiting")


class SqlEventStore:
    """`EventStore` on SQLAlchemy, plus the `decisions` table."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = time.time,
        pool_size: int = 10,
        flush_deliveries: bool = False,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        """`flush_deliveries`: `add` returns once the event is on disk, not once committed
        (safe against power loss as well as crashes, but each delivery waits for the disk).
        `checkpoint_seconds`: on SQLite, how often the WAL is flushed and checkpointed."""
        self.url = url
        self._clock = clock
        self.engine: Engine = open_engine(url, durable=True, pool_size=pool_size)
        metadata.create_all(self.engine)
        self._relaxed = open_engine(url, durable=False, pool_size=pool_size)
        self._sql: QueueSql = QUEUE_SQL[self.engine.dialect.name]
        postgres = self.engine.dialect.name == "postgresql"
        self._ingest = self.engine
        if not flush_deliveries:
            # Relaxed; on SQLite still ahead of the workers' marks for the writer slot.
            self._ingest = (
                self._relaxed
                if postgres
                else open_engine(url, durable=False, urgent=True, pool_size=pool_size)
            )
        writers = 4 if postgres else 1
        self._group_commit = GroupCommit(self._ingest, self._insert_events, writers=writers)
        self._checkpointer: WalCheckpointer | None = None
        if not postgres:
            database = str(self.engine.url.database)
            self._checkpointer = WalCheckpointer(database, interval=checkpoint_seconds)
            self._checkpointer.start()
        self.decisions = SqlDecisionLog(self.engine, clock)

    def close(self) -> None:
        """Finish pending inserts, flush what is relaxed and release the connections."""
        self._group_commit.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        for engine in {self._ingest, self._relaxed, self.engine}:
            engine.dispose()

    def checkpoint(self) -> None:
        """SQLite: flush the WAL and copy it into the database file now (a background
        thread does so every `checkpoint_seconds`). PostgreSQL: nothing to do."""
        if self._checkpointer is not None:
            self._checkpointer.checkpoint()

    def add(
        self, delivery_id: str, source: str, kind: str, key: str, payload: dict[str, Any]
    ) -> bool:
        """Queue a new event; False (and nothing stored) if the id was seen before."""
        return self.submit(delivery_id, source, kind, key, payload).result()

    def submit(
        self, delivery_id: str, source: str, kind: str, key: str, payload: dict[str, Any]
    ) -> Future[bool]:
        """`add` without waiting: the future resolves once the event is committed (and on
        disk, with `flush_deliveries`)."""
        now = self._clock()
        row = {"delivery_id": delivery_id, "source": source, "kind": kind, "key": key}
        return self._group_commit.submit({**row, "payload": json.dumps(payload), "now": now})

    def claim(self, worker: str, lease_seconds: float) -> StoredEvent | None:
        """The oldest claimable event, now running under a lease; None when there is none."""
        with self._relaxed.begin() as connection:
            return self._claim(connection, worker, lease_seconds)

    def complete_and_claim(
        self, event: StoredEvent, worker: str, lease_seconds: float
    ) -> tuple[bool, StoredEvent | None]:
        """`complete`, then `claim`, in one transaction (one commit per processed event)."""
        with self._relaxed.begin() as connection:
            finish = (self._clock(), event.id, event.claim_token)
            return self._finish(
                connection, event.key, self._sql.complete, finish, (worker, lease_seconds)
            )

    def extend_lease(self, event: StoredEvent, lease_seconds: float) -> bool:
        """Keep a running claim alive; False if the claim was lost."""
        parameters = (self._clock() + lease_seconds, event.id, event.claim_token)
        with self._relaxed.begin() as connection:
            return connection.exec_driver_sql(self._sql.extend, parameters).rowcount == 1

    def complete(self, event: StoredEvent) -> bool:
        """Mark a claimed event done; False if the claim was lost (lease expired)."""
        with self._relaxed.begin() as connection:
            finish = (self._clock(), event.id, event.claim_token)
            return self._finish(connection, event.key, self._sql.complete, finish, None)[0]

    def fail(self, event: StoredEvent, error: str, retry_at: dt.datetime | None) -> bool:
        """Record a failed attempt: pending again from `retry_at`, or parked when None."""
        with self._relaxed.begin() as connection:
            if retry_at is None:
                park = (self._clock(), error, event.id, event.claim_token)
                return self._finish(connection, event.key, self._sql.park, park, None)[0]
            parameters = (retry_at.timestamp(), error, event.id, event.claim_token)
            return connection.exec_driver_sql(self._sql.retry, parameters).rowcount == 1

    def get(self, event_id: int) -> StoredEvent | None:
        """One event by id."""
        query = select(*_columns()).where(events.c.id == event_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _to_event(row)

    def list_events(self, state: EventState | None = None, limit: int = 100) -> list[StoredEvent]:
        """Events, newest first, optionally of one state."""
        query = select(*_columns()).order_by(events.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(events.c.state == state.value)
        with self.engine.connect() as connection:
            return [_to_event(row) for row in connection.execute(query)]

    def replay(self, event_id: int) -> bool:
        """Queue a parked event again with fresh attempts (behind its key's head, if any);
        False if it is not parked."""
        event = self.get(event_id)
        if event is None or event.state is not EventState.PARKED:
            return False
        with self.engine.begin() as connection:
            self._lock_keys(connection, [event.key])
            result = connection.exec_driver_sql(self._sql.replay, (self._clock(), event_id))
            return result.rowcount == 1

    def replay_parked(self) -> int:
        """Replay every parked event, oldest first; how many."""
        query = select(events.c.id).where(events.c.state == "parked").order_by(events.c.id)
        with self.engine.connect() as connection:
            parked = list(connection.execute(query).scalars())
        return sum(self.replay(event_id) for event_id in parked)

    def prune(self, finished_before: dt.datetime) -> int:
        """Delete done events finished before the time (their delivery ids are forgotten)."""
        statement = events.delete().where(
            events.c.state == EventState.DONE.value,
            events.c.finished_at < finished_before.timestamp(),
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount

    def queue_depth(self) -> int:
        """Events not finished: pending, running or waiting."""
        query = select(func.count()).select_from(events).where(events.c.state.in_(OPEN_STATES))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def _claim_parameters(self, worker: str, lease_seconds: float) -> tuple[Any, ...]:
        now = self._clock()
        return (now + lease_seconds, uuid.uuid4().hex, worker, now, now)

    def _claim(
        self, connection: Connection, worker: str, lease_seconds: float
    ) -> StoredEvent | None:
        parameters = self._claim_parameters(worker, lease_seconds)
        row = connection.exec_driver_sql(self._sql.claim, parameters).first()
        return None if row is None else _to_event(row)

    def _finish(
        self,
        connection: Connection,
        key: str,
        statement: str,
        parameters: tuple[Any, ...],
        then_claim: tuple[str, float] | None,
    ) -> tuple[bool, StoredEvent | None]:
        """Done or parked: the key's next waiting event becomes its head, atomically; then,
        with `then_claim` (worker, lease), the next claim in the same transaction.

        Every statement after the lock runs on a snapshot taken after it was granted, so
        on PostgreSQL they go out in one pipeline: one round trip instead of four.
        """
        steps: list[tuple[str, tuple[Any, ...]]] = []
        if self._sql.lock_keys is not None:
            steps.append((self._sql.lock_keys, ([key],)))
        steps += [(statement, parameters), (self._sql.promote_next, (key, key))]
        if then_claim is not None:
            steps.append((self._sql.claim, self._claim_parameters(*then_claim)))
        if connection.dialect.name == "postgresql":
            driver = connection.connection.driver_connection
            assert driver is not None
            with driver.pipeline():
                cursors = [driver.execute(sql, values) for sql, values in steps]
            finished = cursors[1].rowcount == 1
            row = cursors[-1].fetchone() if then_claim is not None else None
        else:
            results = [connection.exec_driver_sql(sql, values) for sql, values in steps]
            finished = results[0].rowcount == 1
            row = results[-1].first() if then_claim is not None else None
        return finished, None if row is None else _to_event(row)

    def _insert_events(self, connection: Connection, batch: list[dict[str, Any]]) -> list[bool]:
        """Insert a batch: each new row its key's head or waiting behind it; per row, True
        when stored, False for a delivery stored before (or repeated in the batch).

        On SQLite, writers are serialised, so the rows already stored and the keys that
        have a head cannot change under us: both are read once and decided here.
        """
        keys = sorted({values["key"] for values in batch})
        if self._sql.insert_batch is not None:
            return self._insert_batch_at_once(connection, keys, batch)
        self._lock_keys(connection, keys)
        ids = [values["delivery_id"] for values in batch]
        known = connection.exec_driver_sql(self._sql.known(len(ids), len(keys)), (*ids, *keys))
        seen: set[tuple[str, str]] = set()
        busy: set[str] = set()
        for source, delivery_id, key in known:
            if key is None:
                seen.add((source, delivery_id))
            else:
                busy.add(key)
        rows: list[tuple[Any, ...]] = []
        stored: list[bool] = []
        for values in batch:
            identity = (values["source"], values["delivery_id"])
            stored.append(identity not in seen)
            if identity in seen:
                continue
            seen.add(identity)
            state = "waiting" if values["key"] in busy else "pending"
            busy.add(values["key"])
            rows.append(
                (
                    values["delivery_id"],
                    values["source"],
                    values["kind"],
                    values["key"],
                    values["payload"],
                    state,
                    values["now"],
                    values["now"],
                )
            )
        if rows:
            connection.exec_driver_sql(self._sql.insert, rows)
        return stored

    def _insert_batch_at_once(
        self, connection: Connection, keys: list[str], batch: list[dict[str, Any]]
    ) -> list[bool]:
        """PostgreSQL: lock and insert in one pipeline, a single round trip."""
        assert self._sql.lock_keys is not None
        assert self._sql.insert_batch is not None
        columns = ("delivery_id", "source", "kind", "key", "payload", "now")
        arrays = tuple([values[column] for values in batch] for column in columns)
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.pipeline():
            driver.execute(self._sql.lock_keys, (keys,))
            inserted = driver.execute(self._sql.insert_batch, arrays)
        stored = {(source, delivery_id) for source, delivery_id in inserted.fetchall()}
        answers = []
        for values in batch:
            identity = (values["source"], values["delivery_id"])
            answers.append(identity in stored)
            stored.discard(identity)
        return answers

    def _lock_keys(self, connection: Connection, keys: list[str]) -> None:
        """On PostgreSQL, hold the keys' locks until commit, always in sorted order so two
        replicas can never deadlock on them (SQLite serialises writers anyway)."""
        if self._sql.lock_keys is not None and keys:
            connection.exec_driver_sql(self._sql.lock_keys, (sorted(keys),))


def _columns() -> list[Any]:
    return [events.c[name.strip()] for name in EVENT_COLUMNS.split(",")]


def _to_event(row: Sequence[Any]) -> StoredEvent:
    (
        event_id,
        delivery_id,
        source,
        kind,
        key,
        payload,
        state,
        attempts,
        created_at,
        available_at,
        lease_until,
        claim_token,
        last_error,
        finished_at,
    ) = row
    return StoredEvent(
        id=event_id,
        delivery_id=delivery_id,
        source=source,
        kind=kind,
        key=key,
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        state=EventState(state),
        attempts=attempts,
        created_at=_time(created_at),
        available_at=_time(available_at),
        lease_until=None if lease_until is None else _time(lease_until),
        claim_token=claim_token,
        last_error=last_error,
        finished_at=None if finished_at is None else _time(finished_at),
    )


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
