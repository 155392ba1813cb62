"""SQLAlchemy engines for the two supported databases, configured for a work queue.

SQLite runs in WAL mode (readers never block the writer), with every transaction
started as `BEGIN IMMEDIATE`, so that a claim's read and write can never be interleaved
with another writer's, and a busy timeout instead of immediate "database is locked".

Two kinds of engine: a *durable* one, whose commits are on disk when they return (a
decision; an accepted delivery with `ack_after = "flush"`), and a *relaxed* one, whose
commits skip the disk flush: a worker's progress marks (claim, lease, done, retry) and,
by default, accepted deliveries. Both survive a crash of promobot; the database flushes
relaxed commits shortly after (SQLite: `bot.store.checkpoint`, every second; PostgreSQL:
its WAL writer, within 3 x `wal_writer_delay`).

SQLite never checkpoints inside a commit here (`wal_autocheckpoint=0`): copying the WAL
into the database file and flushing both can stall for as long as the disk does, and a
delivery waiting for its 202 must not pay for that. `WalCheckpointer` does it in the
background instead.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.errors import UserInputError

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
"""After a burst, the WAL file is truncated back to this size once it is checkpointed."""


def is_disconnect(error: BaseException) -> bool:
    """Whether the error came from a connection the database had closed (it was dropped
    from the pool, so the next attempt gets a fresh one)."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def sqlite_url(state_dir: Path) -> str:
    """The default database: `<state dir>/promobot.db`."""
    return f"sqlite:///{state_dir / 'promobot.db'}"


def open_engine(
    url: str, *, durable: bool = True, urgent: bool | None = None, pool_size: int = 10
) -> Engine:
    """An engine for a `sqlite:///...` or `postgresql+psycopg://...` URL.

    `durable`: commits are on disk when they return. `urgent` (default: `durable`): on
    SQLite, its transactions get the file before a relaxed engine's (see `_WriterLock`).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserInputError(
            f"database URL {url!r} cannot be parsed",
            hint="use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        urgent = durable if urgent is None else urgent
        return _sqlite_engine(url, parsed.database, durable=durable, urgent=urgent)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No ping per checkout (a round trip per transaction): a connection found dead is
        # invalidated, and group commit and the workers retry (see `is_disconnect`).
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
        if not durable:

            @event.listens_for(engine, "connect")
            def _relax(dbapi_connection: Any, _record: Any) -> None:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit TO off")
                dbapi_connection.commit()

        return engine
    raise UserInputError(
        f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}",
        hint="use sqlite:///PATH (one replica) or postgresql+psycopg://... (several)",
    )


def _sqlite_engine(url: str, database: str | None, *, durable: bool, urgent: bool) -> Engine:
    if not database or database == ":memory:":
        raise UserInputError(
            "an in-memory SQLite database cannot hold events across restarts",
            hint="give a file: sqlite:///PATH/promobot.db",
        )
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below open every transaction itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: on disk when commit returns. NORMAL (in WAL mode): safe from process
        # crashes, but the last commits may be lost in a power cut.
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        cursor.close()

    writer = _writer_lock(database)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if not writer.acquire(urgent=urgent, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise TimeoutError(f"{database}: no write transaction possible for 30 s")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        connection.info[_HOLDS_WRITER] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(connection: Any) -> None:
        _release(connection)

    def _release(connection: Any) -> None:
        # Only a slot this connection's transaction took (releasing a free one raises).
        if connection.info.pop(_HOLDS_WRITER, False):
            writer.release()

    return engine


_HOLDS_WRITER = "promobot_holds_writer"


class _WriterLock:
    """SQLite's single writer slot, handed over in this process without polling.

    A writer that finds the file locked sleeps in steps of up to 100 ms before trying
    again; queueing this process's transactions here instead hands the file over as soon
    as it is free (other processes, such as the CLI, still meet SQLite's busy timeout).
    Urgent transactions (deliveries waiting for their 202, decisions) go first, but never
    twice in a row while a worker's transaction waits, so neither side can starve the
    other. Each release wakes exactly one waiter of the class whose turn it is.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting = {
            True: threading.Condition(self._mutex),
            False: threading.Condition(self._mutex),
        }
        self._count = {True: 0, False: 0}
        self._held = False
        self._last_was_urgent = False

    def acquire(self, *, urgent: bool, timeout: float) -> bool:
        with self._mutex:
            self._count[urgent] += 1
            try:
                taken = self._waiting[urgent].wait_for(lambda: self._is_turn_of(urgent), timeout)
            finally:
                self._count[urgent] -= 1
            if taken:
                self._held = True
                self._last_was_urgent = urgent
            return taken

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                # Released twice: the slot could be handed to two writers at once.
                raise RuntimeError("the SQLite writer slot was released but not held")
            self._held = False
            for urgent in (True, False):
                if self._count[urgent] and self._is_turn_of(urgent):
                    self._waiting[urgent].notify()
                    return

    def _is_turn_of(self, urgent: bool) -> bool:
        if self._held:
            return False
        if urgent:
            return not (self._last_was_urgent and self._count[False])
        return not self._count[True] or self._last_was_urgent


_WRITER_LOCKS: dict[str, _WriterLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(database: str) -> _WriterLock:
    """One writer lock per database file and process, shared by its engines."""
    path = str(Path(database).resolve())
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(path, _WriterLock())
