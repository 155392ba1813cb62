"""Fetching MLflow models into the server's directory, loading them as pyfunc, smoke-testing them.

Artifacts are copied under the server's own directory, so a restarted server
loads what it served from disk even when the tracking server is away.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import mlflow.artifacts
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from bot.serving.api import SmokeResult
from bot.serving.errors import LoadFailed
from bot.serving.payloads import count_rows, synthesise_rows

with warnings.catch_warnings():
    # MLflow 3 warns about the `Any` hints of its own agent types when pyfunc is first imported.
    warnings.filterwarnings(
        "ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning
    )
    import mlflow.pyfunc

HGB_TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
"""The type skops refuses by default in HistGradientBoosting models.

MLflow 3 saves scikit-learn models with skops and reads the trusted types back
from the model's own MLmodel file, so a model logged with
`mlflow.sklearn.log_model(..., skops_trusted_types=[HGB_TREE_PREDICTOR])`
loads here without further configuration.
"""


def artifact_location(uri: str, tracking_uri: str | None) -> str:
    """Where the artifacts behind `uri` live, resolving `models:/` URIs in the given registry.

    MLflow resolves `models:/` through the process-wide registry URI; resolving
    here keeps each load on the tracking URI it was given.
    """
    if not uri.startswith("models:/"):
        return uri
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name_part, _, rest = uri.removeprefix("models:/").partition("/")
    try:
        if "@" in name_part:
            name, alias = name_part.split("@", 1)
            version = client.get_model_version_by_alias(name, alias).version
            location: str = client.get_model_version_download_uri(name, version)
        elif rest:
            location = client.get_model_version_download_uri(name_part, rest.split("/")[0])
        else:
            location = client.get_logged_model(name_part).artifact_location
    except MlflowException as exc:
        raise LoadFailed(
            f"cannot resolve {uri} in the registry at {tracking_uri or 'the default tracking URI'}:"
            f" {exc.message}",
            hint="check the model name and version, and the tracking URI given to the server "
            "(--tracking-uri or MLFLOW_TRACKING_URI) or to the target",
        ) from exc
    return location


def fetch_model(uri: str, tracking_uri: str | None, destination: Path) -> Path:
    """Copy the model's artifacts into `destination` (replacing what is there); their folder."""
    location = artifact_location(uri, tracking_uri)
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=location, tracking_uri=tracking_uri, dst_path=str(destination)
        )
    except (MlflowException, OSError) as exc:
        raise LoadFailed(
            f"cannot download the artifacts of {uri} from {location}: {exc}",
            hint="check that the tracking server and its artifact store are reachable",
        ) from exc
    return Path(local)


def load_pyfunc(path: Path, uri: str) -> Any:
    """The pyfunc model stored at `path`."""
    try:
        return mlflow.pyfunc.load_model(str(path))
    except Exception as exc:
        # Loading runs the flavour's own code; any failure means this version cannot serve.
        raise LoadFailed(
            f"cannot load {uri} as an MLflow pyfunc model: {exc}",
            hint="for scikit-learn models saved with skops, log them with "
            f"skops_trusted_types=[{HGB_TREE_PREDICTOR!r}, ...] for the types skops refuses",
        ) from exc


def smoke_test(model: Any, uri: str) -> SmokeResult:
    """Score the model's saved input example, or a row made from its signature."""
    rows, source = model.input_example, "input_example"
    if rows is None:
        rows, source = synthesise_rows(model.metadata.get_input_schema()), "signature"
    if rows is None:
        raise LoadFailed(
            f"{uri} has neither an input example nor a column signature to smoke-test it with",
            hint="log the model with input_example=... (or signature=...) so it can be "
            "checked before it takes traffic",
        )
    try:
        output = model.predict(rows)
    except Exception as exc:
        # The smoke test exists to catch whatever a new version raises before it takes traffic.
        raise LoadFailed(
            f"{uri} failed its smoke test on its {source.replace('_', ' ')}: {exc}",
            hint="fix the model (or its input example) and register a new version",
        ) from exc
    given, answered = count_rows(rows), count_rows(output)
    if given is not None and answered is not None and given != answered:
        raise LoadFailed(
            f"{uri} answered {answered} predictions for {given} smoke-test rows",
            hint="a model must return one prediction per input row",
        )
    return SmokeResult(rows=given or 0, source=source)
