"""Where an MLflow model URI points, resolved against one given tracking server.

MLflow's own download helpers resolve `models:/` URIs (and, in MLflow 3,
`runs:/` URIs of logged models) against the process-wide registry URI, even
when they are handed another tracking URI. promobot resolves the URI with a
client bound to the tracking URI it was given, so that concurrent
evaluations against different servers never touch global state, and then
downloads from the concrete artifact location.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import UserInputError

URI_HINT = (
    "use models:/<name>/<version>, models:/<name>@<alias>, runs:/<run id>/<artifact path>, "
    "or a local folder that holds an MLmodel file; set --tracking-uri (or MLFLOW_TRACKING_URI) "
    "to the MLflow that holds the model"
)


@dataclass(frozen=True)
class ResolvedUri:
    """A concrete artifact location of a model and the run that produced it, when known."""

    location: str
    run_id: str | None


def is_local(uri: str) -> bool:
    """A path on this machine rather than a URI with a scheme."""
    return ":/" not in uri


def resolve_model_uri(uri: str, tracking_uri: str | None) -> ResolvedUri:
    """The artifact location behind `uri` (registry versions, aliases, logged models, runs)."""
    from mlflow import MlflowClient  # noqa: PLC0415 (mlflow is slow to import)
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    if is_local(uri):
        return ResolvedUri(location=str(Path(uri).expanduser()), run_id=None)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        if uri.startswith("models:/") and not uri.startswith("models://"):
            return _resolve_models_uri(client, uri[len("models:/") :])
        if uri.startswith("runs:/"):
            return _resolve_runs_uri(client, uri[len("runs:/") :])
    except MlflowException as error:
        raise UserInputError(
            f"model URI {uri} does not resolve: {error.message.splitlines()[0]}", hint=URI_HINT
        ) from error
    return ResolvedUri(location=uri, run_id=None)


def _resolve_models_uri(client: Any, body: str) -> ResolvedUri:
    head, _, rest = body.partition("/")
    if "@" in head:
        name, _, alias = head.partition("@")
        version = client.get_model_version_by_alias(name, alias)
        return ResolvedUri(
            client.get_model_version_download_uri(name, version.version), version.run_id
        )
    if rest:
        if not rest.isdigit():
            raise UserInputError(
                f"models:/{body}: stages are not supported, only versions and aliases",
                hint="give the version number, or set an alias and use models:/<name>@<alias>",
            )
        version = client.get_model_version(head, rest)
        return ResolvedUri(client.get_model_version_download_uri(head, rest), version.run_id)
    logged = client.get_logged_model(head)
    return ResolvedUri(logged.artifact_location, logged.source_run_id)


def _resolve_runs_uri(client: Any, body: str) -> ResolvedUri:
    run_id, _, path = body.partition("/")
    run = client.get_run(run_id)
    name, _, inner = path.partition("/")
    if name:
        models = client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'"
        )
        for model in models:
            if model.source_run_id == run_id:
                location = model.artifact_location.rstrip("/")
                return ResolvedUri(f"{location}/{inner}" if inner else location, run_id)
    return ResolvedUri(f"{run.info.artifact_uri.rstrip('/')}/{path}", run_id)
