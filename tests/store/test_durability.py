"""When an accepted delivery is safe, and how SQLite's WAL reaches the database file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.server.app import open_event_store
from bot.server.settings import AckAfter, ServiceSettings
from bot.store.sql import SqlEventStore
from tests.server.support import wait_until

PAYLOAD = {"body": "x" * 3000}


def delivery_commit_setting(engine: Engine) -> str:
    """What the database does at the commit of a delivery: its own setting, as it reports it."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
            return {1: "relaxed", 2: "flushed"}[level]
        setting = connection.exec_driver_sql("SHOW synchronous_commit").scalar_one()
        return {"off": "relaxed", "on": "flushed"}[setting]


@pytest.mark.parametrize(("flush", "expected"), [(False, "relaxed"), (True, "flushed")])
def test_deliveries_are_flushed_before_the_answer_only_on_request(
    database_url: str, flush: bool, expected: str
) -> None:
    store = SqlEventStore(database_url, flush_deliveries=flush)
    try:
        assert store.add("d-1", "github", "pushed", "k", PAYLOAD)
        # The engine group commit stores deliveries with (the store's only way in).
        assert delivery_commit_setting(store._ingest) == expected
        # Decisions are always flushed; a worker's progress marks never wait for the disk.
        assert delivery_commit_setting(store.engine) == "flushed"
        assert delivery_commit_setting(store._relaxed) == "relaxed"
    finally:
        store.close()


@pytest.mark.parametrize(("ack_after", "expected"), [("commit", "relaxed"), ("flush", "flushed")])
def test_the_service_stores_deliveries_as_ack_after_says(
    tmp_path: Path, ack_after: AckAfter, expected: str
) -> None:
    settings = ServiceSettings(state_dir=tmp_path, ack_after=ack_after)
    store = open_event_store(settings)
    try:
        assert delivery_commit_setting(store._ingest) == expected
    finally:
        store.close()


def rows_in_database_file_alone(database: Path, copy: Path) -> int:
    """Events a copy of the database file holds without its WAL: what was checkpointed."""
    shutil.copyfile(database, copy)
    connection = sqlite3.connect(copy)
    try:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if "promobot_events" not in {name for (name,) in tables}:
            return 0
        return int(connection.execute("SELECT count(*) FROM promobot_events").fetchone()[0])
    finally:
        connection.close()


def test_the_background_checkpoint_copies_commits_into_the_database_file(
    tmp_path: Path,
) -> None:
    """Commits never checkpoint themselves; the checkpointer does, within its interval."""
    database = tmp_path / "events.db"
    store = SqlEventStore(f"sqlite:///{database}", checkpoint_seconds=0.05)
    try:
        for index in range(50):
            assert store.add(f"d-{index}", "github", "pushed", f"k{index}", PAYLOAD)
        wait_until(
            lambda: rows_in_database_file_alone(database, tmp_path / "copy.db") == 50,
            timeout=10,
            what="the 50 events to reach the database file",
        )
    finally:
        store.close()


def test_without_checkpoints_commits_stay_in_the_wal(tmp_path: Path) -> None:
    """The contrast that makes the test above mean something: no commit checkpoints."""
    database = tmp_path / "events.db"
    store = SqlEventStore(f"sqlite:///{database}", checkpoint_seconds=3600)
    try:
        for index in range(50):
            assert store.add(f"d-{index}", "github", "pushed", f"k{index}", PAYLOAD)
        assert rows_in_database_file_alone(database, tmp_path / "copy.db") == 0
    finally:
        store.close()


def wal_frames(database: Path) -> int:
    """Frames in the WAL now (a PASSIVE checkpoint reports them)."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        return int(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        connection.close()


def test_once_checkpointed_the_wal_is_rewritten_from_its_start(tmp_path: Path) -> None:
    """After a checkpoint has copied everything, the next write starts the WAL over: the
    file keeps its size instead of growing with every delivery."""
    database = tmp_path / "events.db"
    store = SqlEventStore(f"sqlite:///{database}", checkpoint_seconds=3600)
    try:
        for index in range(300):
            assert store.add(f"d-{index}", "github", "pushed", f"k{index % 64}", PAYLOAD)
        long = wal_frames(database)
        size = Path(f"{database}-wal").stat().st_size
        store.checkpoint()
        assert store.add("d-next", "github", "pushed", "k", PAYLOAD)
        assert wal_frames(database) < 20 < long
        assert Path(f"{database}-wal").stat().st_size == size
    finally:
        store.close()
