"""`promobot events list|replay` against a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.cli.events import events_app
from bot.store.base import EventState
from bot.store.sql import SqlEventStore


@pytest.fixture
def store(database_url: str) -> Iterator[SqlEventStore]:
    store = SqlEventStore(database_url)
    for delivery in ("d1", "d2", "d3"):
        store.add(delivery, "github", "pushed", delivery, {"delivery": delivery})
    for _ in range(2):
        event = store.claim("w", 30)
        assert event is not None
        store.fail(event, "Traceback (most recent call last):\nRuntimeError: forge said 502", None)
    yield store
    store.close()


def run(store: SqlEventStore, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(events_app, [*args, "--database-url", store.url])
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_parked_events_with_their_last_error(store: SqlEventStore) -> None:
    """An operator sees what is stuck and why, without opening the database."""
    code, out, _ = run(store, "list", "--state", "parked")
    assert code == 0
    assert "d1" in out
    assert "d2" in out
    assert "d3" not in out
    assert "RuntimeError: forge said 502" in out


def test_list_as_json_lines(store: SqlEventStore) -> None:
    code, out, _ = run(store, "list", "--json", "--limit", "2")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["delivery_id"], row["state"]) for row in rows] == [
        ("d3", "pending"),
        ("d2", "parked"),
    ]


def test_replay_one_parked_event(store: SqlEventStore) -> None:
    """`replay ID` hands a parked event back to the workers."""
    event_id = store.list_events(EventState.PARKED)[-1].id
    code, out, _ = run(store, "replay", str(event_id))
    assert (code, out.strip()) == (0, f"event {event_id} is pending again")
    assert store.get(event_id).state is EventState.PENDING  # type: ignore[union-attr]


def test_replay_all_parked(store: SqlEventStore) -> None:
    code, out, _ = run(store, "replay", "--all-parked")
    assert (code, out.strip()) == (0, "replaying 2 parked events")
    assert store.list_events(EventState.PARKED) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["replay", "999"], 1, "event 999 does not exist"),
        (["replay"], 2, "give either an event id or --all-parked"),
        (["replay", "1", "--all-parked"], 2, "give either an event id or --all-parked"),
    ],
)
def test_replay_explains_what_it_cannot_do(
    store: SqlEventStore, args: list[str], code: int, message: str
) -> None:
    exit_code, _, err = run(store, *args)
    assert exit_code == code
    assert message in err


def test_replaying_an_event_that_is_not_parked_says_its_state(store: SqlEventStore) -> None:
    pending = store.list_events(EventState.PENDING)[0].id
    exit_code, _, err = run(store, "replay", str(pending))
    assert exit_code == 1
    assert "is pending, not parked" in err
    assert "promobot events list --state parked" in err


def test_a_bad_database_url_is_a_message_not_a_traceback() -> None:
    result = CliRunner().invoke(events_app, ["list", "--database-url", "mysql://x/y"])
    assert result.exit_code == 2
    assert "unsupported database" in result.stderr
    assert "Traceback" not in result.output
