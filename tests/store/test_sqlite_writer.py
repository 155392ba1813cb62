"""SQLite's one writer slot in this process: a failed commit still hands it on."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.store.engine import _writer_lock, open_engine


def _slot_is_free(database: str) -> bool:
    """Whether another thread of this process can take the writer slot right now."""
    taken = threading.Event()

    def take() -> None:
        slot = _writer_lock(database)
        if slot.acquire(urgent=False, timeout=5):
            taken.set()
            slot.release()

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
