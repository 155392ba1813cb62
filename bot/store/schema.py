"""The tables, shared by SQLite and PostgreSQL. Times are Unix seconds (float, UTC)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

HEAD_STATES = ("pending", "running")
"""The head of a key's queue: the one event of the key that may be claimed."""
OPEN_STATES = ("pending", "running", "waiting")

events = Table(
    "promobot_events",
    metadata,
    # SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("delivery_id", String(200), nullable=False),
    Column("source", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("key", String(400), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("available_at", Float, nullable=False),
    Column("lease_until", Float),
    Column("claim_token", String(64)),
    Column("claimed_by", String(200)),
    Column("last_error", Text),
    Column("finished_at", Float),
    UniqueConstraint("source", "delivery_id", name="uq_promobot_events_delivery"),
)

# Partial indexes over the few open events keep claims fast however many are done.
_head = events.c.state.in_(HEAD_STATES)
_open = events.c.state.in_(OPEN_STATES)
Index(
    "ix_promobot_events_heads",
    events.c.id,
    sqlite_where=_head,
    postgresql_where=_head,
)
# The database itself refuses a second head for a key: never two events of a key at once.
Index(
    "uq_promobot_events_one_head_per_key",
    events.c.key,
    unique=True,
    sqlite_where=_head,
    postgresql_where=_head,
)
Index(
    "ix_promobot_events_open_key",
    events.c.key,
    events.c.id,
    sqlite_where=_open,
    postgresql_where=_open,
)
Index("ix_promobot_events_state", events.c.state, events.c.id)

decisions = Table(
    "promobot_decisions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("registry", String(32), nullable=False),
    Column("model", String(200), nullable=False),
    Column("version", String(100), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("decided_at", Float, nullable=False),
    UniqueConstraint("registry", "model", "version", "environment", name="uq_promobot_decision"),
)
