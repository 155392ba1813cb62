"""`promobot events list|replay`: look at stored events, and retry parked ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.errors import PromobotError
from bot.settings import load_settings
from bot.store.base import EventState, StoredEvent
from bot.store.sql import SqlEventStore

events_app = typer.Typer(
    help="Stored webhook events: list them, replay parked ones.", no_args_is_help=True
)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        help="Event store URL (default: PROMOBOT_DATABASE_URL, else SQLite in the state dir)."
    ),
]


@contextmanager
def _open_store(database_url: str | None) -> Iterator[SqlEventStore]:
    try:
        store = SqlEventStore(load_settings(database_url=database_url).service.database_url)
    except PromobotError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        yield store
    finally:
        store.close()


@events_app.command("list")
def list_events(
    state: Annotated[
        EventState | None, typer.Option(help="Only events in this state.", case_sensitive=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """List stored events, newest first (parked ones with their last error)."""
    with _open_store(database_url) as store:
        found = store.list_events(state, limit)
    if as_json:
        for event in found:
            typer.echo(event.model_dump_json())
        return
    if not found:
        typer.echo("no events" + (f" in state {state.value}" if state else ""))
        return
    Console().print(_table(found))
    for event in found:
        if event.state is EventState.PARKED and event.last_error:
            last_line = event.last_error.strip().splitlines()[-1]
            typer.echo(f"event {event.id} ({event.delivery_id}) parked: {last_line}")


def _table(found: list[StoredEvent]) -> Table:
    table = Table("id", "state", "attempts", "source", "kind", "key", "delivery", "received")
    for event in found:
        table.add_row(
            str(event.id),
            event.state.value,
            str(event.attempts),
            event.source,
            event.kind,
            event.key,
            event.delivery_id,
            event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


@events_app.command("replay")
def replay(
    event_id: Annotated[int | None, typer.Argument(help="Id of a parked event.")] = None,
    all_parked: Annotated[bool, typer.Option("--all-parked", help="Every parked event.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Make parked events pending again; the service's workers retry them."""
    if (event_id is None) == (not all_parked):
        typer.echo("error: give either an event id or --all-parked", err=True)
        raise typer.Exit(2)
    with _open_store(database_url) as store:
        if all_parked:
            typer.echo(f"replaying {store.replay_parked()} parked events")
            return
        assert event_id is not None
        if store.replay(event_id):
            typer.echo(f"event {event_id} is pending again")
            return
        event = store.get(event_id)
    reason = "does not exist" if event is None else f"is {event.state.value}, not parked"
    typer.echo(f"error: event {event_id} {reason}", err=True)
    typer.echo("hint: `promobot events list --state parked` shows what can be replayed", err=True)
    raise typer.Exit(1)
