"""`promobot sandbox github`: run the local GitHub stand-in in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.errors import PromobotError


def sandbox_github(
    data: Annotated[
        Path,
        typer.Option("--data", help="Folder holding the sandbox's state (created if missing)."),
    ],
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0 picks a free one).")
    ] = 0,
    seed: Annotated[
        Path | None,
        typer.Option("--seed", help="Seed YAML: users, orgs, teams, repositories, apps."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Serve GitHub's REST API (the part promobot uses) over real bare git repositories."""
    # Imported here so that `promobot --help` does not load FastAPI and git tooling.
    from bot.sandbox.github.server import serve_forever  # noqa: PLC0415

    try:
        serve_forever(data, host, port, seed)
    except PromobotError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    except OSError as error:
        typer.echo(f"error: cannot serve on {host}:{port}: {error}", err=True)
        raise typer.Exit(2) from error
