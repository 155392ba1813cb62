"""`promobot serve-models`: the local scoring server that the `local` target deploys to."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from bot.errors import PromobotError


def serve_models(
    port: Annotated[
        int, typer.Option(help="Port to listen on; 0 picks a free one (the URL is printed).")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    state: Annotated[
        Path | None,
        typer.Option(
            help="Directory that keeps what serves (and the models' artifacts) across restarts."
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            envvar="MLFLOW_TRACKING_URI",
            help="MLflow tracking URI that resolves `models:/` URIs, unless a load names its own.",
        ),
    ] = None,
    environment: Annotated[
        str, typer.Option(help="Environment of requests that do not pass `?environment=`.")
    ] = "production",
) -> None:
    """Serve MLflow pyfunc models per (model, environment), with blue/green and canary."""
    # Artifact progress bars would interleave with the server's log lines.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # Imported here: MLflow takes seconds to import, and every other command would pay for it.
    from bot.serving.app import create_app  # noqa: PLC0415
    from bot.serving.runner import bind, build_server, url_of  # noqa: PLC0415
    from bot.serving.service import ScoringService  # noqa: PLC0415

    _log_to_stderr()
    try:
        sock = bind(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        typer.echo("hint: pick another --port, or 0 for any free one", err=True)
        raise typer.Exit(2) from exc
    service = ScoringService(
        state_dir=state.resolve() if state else None,
        tracking_uri=tracking_uri,
        environment=environment,
    )
    try:
        service.restore()
    except PromobotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    where = f" (state in {state})" if state else " (no --state: nothing survives a restart)"
    typer.echo(f"promobot scoring server listening on {url_of(sock)}{where}")
    build_server(create_app(service)).run(sockets=[sock])


def _log_to_stderr() -> None:
    """Loads, traffic changes and restores, one line each, for whoever watches the server."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s serve-models: %(message)s"))
    logger = logging.getLogger("bot.serving")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
