"""The SQL of the work queue, one variant per dialect.

Each key's queue has one head (pending or running); its later events wait. A claim only
looks at heads, whose number is that of busy keys, never at a key's backlog. Transitions
that change which event heads a key (a new event, done, parked, replayed) lock the key
first on PostgreSQL (`pg_advisory_xact_lock`), so replicas cannot both decide to be the
head; SQLite's `BEGIN IMMEDIATE` already serialises all writers. A partial unique index
makes a second head impossible whatever happens.

These statements run for every delivery and every processed event, so they are plain
SQL run through the driver: building and compiling SQLAlchemy constructs per call cost
more CPU than the database work. Only bound parameters vary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

EVENT_COLUMNS = (
    "id, delivery_id, source, kind, key, payload, state, attempts, created_at, available_at,"
    " lease_until, claim_token, last_error, finished_at"
)
"""The columns `claim` returns, in order."""


@dataclass(frozen=True)
class QueueSql:
    """The queue's statements for one dialect (parameters in the order documented)."""

    placeholder: str
    insert: str
    """delivery_id, source, kind, key, payload (JSON text), state, created_at, available_at"""
    claim: str
    """lease_until, claim_token, claimed_by, now, now → the claimed row (EVENT_COLUMNS)"""
    extend: str
    """lease_until, id, claim_token"""
    complete: str
    """finished_at, id, claim_token"""
    park: str
    """finished_at, last_error, id, claim_token"""
    retry: str
    """available_at, last_error, id, claim_token"""
    promote_next: str
    """key, key: its oldest waiting event becomes its head, unless it has one"""
    replay: str
    """available_at, id: a parked event becomes the head, or waits behind the key's head"""
    lock_keys: str | None
    """keys (a sorted list), or None where writers are serialised anyway"""
    insert_batch: str | None = None
    """PostgreSQL: a whole batch in one statement, run with its keys locked: arrays of
    delivery_id, source, kind, key, payload (JSON text), created_at → (source, delivery_id)
    of each row stored"""

    def known(self, ids: int, keys: int) -> str:
        """Rows `(source, delivery_id, NULL)` already stored for the first `ids` parameters
        and `(NULL, NULL, key)` for those of the next `keys` parameters that have a head."""
        id_marks = ", ".join([self.placeholder] * ids)
        key_marks = ", ".join([self.placeholder] * keys)
        # Only placeholders are interpolated: the values travel as bound parameters.
        return (
            "SELECT source, delivery_id, NULL FROM promobot_events"  # noqa: S608
            f" WHERE delivery_id IN ({id_marks})"
            " UNION ALL SELECT NULL, NULL, key FROM promobot_events"
            f" WHERE key IN ({key_marks}) AND state IN ('pending', 'running')"
        )


def _variant(placeholder: str, skip_locked: bool, lock_keys: str | None) -> QueueSql:
    def bind(sql: str) -> str:
        return sql.replace("?", placeholder)

    claim = (
        "UPDATE promobot_events SET state = 'running', attempts = attempts + 1,"
        " lease_until = ?, claim_token = ?, claimed_by = ?"
        " WHERE id = (SELECT id FROM promobot_events WHERE state IN ('pending', 'running')"
        " AND ((state = 'pending' AND available_at <= ?)"
        " OR (state = 'running' AND lease_until < ?))"
        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, delivery_id, source, kind, key, payload, state, attempts, created_at,"
        " available_at, lease_until, claim_token, last_error, finished_at"
    )
    return QueueSql(
        placeholder=placeholder,
        # The payload is JSON text; PostgreSQL casts the untyped parameter to `json`.
        insert=bind(
            "INSERT INTO promobot_events (delivery_id, source, kind, key, payload, state,"
            " attempts, created_at, available_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)"
        ),
        claim=bind(claim if skip_locked else claim.replace(" FOR UPDATE SKIP LOCKED", "")),
        extend=bind(
            "UPDATE promobot_events SET lease_until = ?"
            " WHERE id = ? AND claim_token = ? AND state = 'running'"
        ),
        complete=bind(
            "UPDATE promobot_events SET state = 'done', finished_at = ?, lease_until = NULL,"
            " claim_token = NULL WHERE id = ? AND claim_token = ? AND state = 'running'"
        ),
        park=bind(
            "UPDATE promobot_events SET state = 'parked', finished_at = ?, last_error = ?,"
            " lease_until = NULL, claim_token = NULL"
            " WHERE id = ? AND claim_token = ? AND state = 'running'"
        ),
        retry=bind(
            "UPDATE promobot_events SET state = 'pending', available_at = ?, last_error = ?,"
            " lease_until = NULL, claim_token = NULL"
            " WHERE id = ? AND claim_token = ? AND state = 'running'"
        ),
        promote_next=bind(
            "UPDATE promobot_events SET state = 'pending' WHERE id = (SELECT min(id)"
            " FROM promobot_events WHERE key = ? AND state = 'waiting')"
            " AND NOT EXISTS (SELECT 1 FROM promobot_events AS head"
            " WHERE head.key = ? AND head.state IN ('pending', 'running'))"
        ),
        replay=bind(
            "UPDATE promobot_events SET attempts = 0, available_at = ?, finished_at = NULL,"
            " state = CASE WHEN EXISTS (SELECT 1 FROM promobot_events AS head"
            " WHERE head.key = promobot_events.key AND head.state IN ('pending', 'running'))"
            " THEN 'waiting' ELSE 'pending' END WHERE id = ? AND state = 'parked'"
        ),
        lock_keys=lock_keys,
    )


# Rows already stored and repeats within the batch are left out; the first new row of a
# key becomes its head unless the key has one; the rest wait, in the batch's order.
_POSTGRES_INSERT_BATCH = (
    "INSERT INTO promobot_events (delivery_id, source, kind, key, payload, state, attempts,"
    " created_at, available_at)"
    " SELECT delivery_id, source, kind, key, CAST(payload AS json),"
    " CASE WHEN row_number() OVER (PARTITION BY key ORDER BY position) = 1"
    " AND NOT EXISTS (SELECT 1 FROM promobot_events AS head"
    " WHERE head.key = fresh.key AND head.state IN ('pending', 'running'))"
    " THEN 'pending' ELSE 'waiting' END, 0, created_at, created_at"
    " FROM (SELECT DISTINCT ON (source, delivery_id) * FROM unnest(CAST(%s AS text[]),"
    " CAST(%s AS text[]), CAST(%s AS text[]), CAST(%s AS text[]), CAST(%s AS text[]),"
    " CAST(%s AS float8[])) WITH ORDINALITY"
    " AS batch(delivery_id, source, kind, key, payload, created_at, position)"
    " WHERE NOT EXISTS (SELECT 1 FROM promobot_events AS known"
    " WHERE known.source = batch.source AND known.delivery_id = batch.delivery_id)"
    " ORDER BY source, delivery_id, position) AS fresh"
    " ORDER BY position"
    " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id"
)

QUEUE_SQL = {
    "sqlite": _variant("?", skip_locked=False, lock_keys=None),
    "postgresql": dataclasses.replace(
        _variant(
            "%s",
            skip_locked=True,
            lock_keys=(
                "SELECT pg_advisory_xact_lock(hashtextextended(key, 0))"
                " FROM unnest(CAST(%s AS text[])) WITH ORDINALITY AS keys(key, position)"
                " ORDER BY position"
            ),
        ),
        insert_batch=_POSTGRES_INSERT_BATCH,
    ),
}
