"""SQLite's one writer slot: handed over only once the transaction holding it has ended."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.store.engine import open_engine, sqlite_writes_paused


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_the_writer_slot_is_free_only_after_the_transaction_ended(
    tmp_path: Path, outcome: str
) -> None:
    """Handed over earlier, the next writer's BEGIN IMMEDIATE would meet a locked file and
    sleep in SQLite's busy handler."""
    database = tmp_path / "w.db"
    engine = open_engine(f"sqlite:///{database}", durable=True)
    seen: list[tuple[bool, bool]] = []

    # Registered after promobot's own hooks, so it runs once they are done.
    @event.listens_for(engine, outcome)
    def _after(connection: Any) -> None:
        still_open = connection.connection.driver_connection.in_transaction
        slot_free = _slot_is_free(str(database))
        seen.append((still_open, slot_free))

    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
            if outcome == "commit":
                connection.commit()
            else:
                connection.rollback()
    finally:
        engine.dispose()
    assert seen == [(False, True)]


def _slot_is_free(database: str) -> bool:
    """Whether another thread of this process can take the writer slot right now."""
    taken = threading.Event()

    def take() -> None:
        with sqlite_writes_paused(database):
            taken.set()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(timeout=5)
    return taken.is_set()


def test_a_failed_commit_releases_the_slot(tmp_path: Path) -> None:
    """A commit that fails still hands the slot on (once: a second release raises)."""
    database = tmp_path / "w.db"
    engine = open_engine(f"sqlite:///{database}", durable=True)

    @event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            connection.execute(
                text(
                    "CREATE TABLE child (parent INTEGER REFERENCES parent(id)"
                    " DEFERRABLE INITIALLY DEFERRED)"
                )
            )
        # A deferred foreign key fails at COMMIT, after the statement succeeded.
        with pytest.raises(Exception, match="FOREIGN KEY"), engine.begin() as connection:
            connection.execute(text("INSERT INTO child VALUES (42)"))
        assert _slot_is_free(str(database))
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO parent VALUES (1)"))
    finally:
        engine.dispose()
