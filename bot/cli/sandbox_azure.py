"""`promobot sandbox azure`: run the Azure ML and Azure DevOps stand-in in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sandbox_azure(
    data: Annotated[
        Path,
        typer.Option("--data", help="Folder holding the sandbox's state (created if missing)."),
    ],
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0 picks a free one).")
    ] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    mlflow_tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--mlflow-tracking-uri",
            help="MLflow store with the runs behind registered models (default DATA/mlflow.db).",
        ),
    ] = None,
    operation_seconds: Annotated[
        float,
        typer.Option("--operation-seconds", help="How long a long-running operation takes."),
    ] = 2.0,
    pipeline_seconds: Annotated[
        float,
        typer.Option("--pipeline-seconds", help="How long an Azure DevOps pipeline run takes."),
    ] = 3.0,
) -> None:
    """Serve the Azure ML and Azure DevOps REST calls promobot makes, with fault injection."""
    # Imported here so that `promobot --help` does not load FastAPI, MLflow and Azure SDKs.
    from bot.sandbox.azure.config import SandboxAzureConfig  # noqa: PLC0415
    from bot.sandbox.azure.server import serve_forever  # noqa: PLC0415

    config = SandboxAzureConfig(
        data_dir=data,
        mlflow_tracking_uri=mlflow_tracking_uri,
        operation_seconds=operation_seconds,
        pipeline_seconds=pipeline_seconds,
    )
    try:
        serve_forever(config, host, port)
    except (OSError, RuntimeError) as error:
        typer.echo(f"error: cannot serve on {host}:{port}: {error}", err=True)
        raise typer.Exit(2) from error
