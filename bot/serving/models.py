"""Fetching MLflow models into the server's directory, loading them as pyfunc, smoke-testing them.

Artifacts are copied under the server's own directory, so a restarted server
loads what it served from disk even when the tracking server is away. URIs are
resolved against the tracking URI each load names, never MLflow's global one.

MLflow 3 saves scikit-learn models with skops and passes the trusted types
recorded at logging time back when loading, so a HistGradientBoosting model
logged with `skops_trusted_types=HIST_GRADIENT_BOOSTING_TYPES` (from
`bot.evaluation.models`) loads here without further configuration.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import mlflow.artifacts
from mlflow.exceptions import MlflowException

from bot.errors import UserInputError
from bot.evaluation.resolve import resolve_model_uri
from bot.serving.api import SmokeResult
from bot.serving.errors import LoadFailed
from bot.serving.payloads import count_rows, synthesise_rows

with warnings.catch_warnings():
    # MLflow 3 warns about the `Any` hints of its own agent types when pyfunc is first imported.
    warnings.filterwarnings(
        "ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning
    )
    import mlflow.pyfunc


def fetch_model(uri: str, tracking_uri: str | None, destination: Path) -> Path:
    """Copy the model's artifacts into `destination` (replacing what is there); their folder."""
    try:
        location = resolve_model_uri(uri, tracking_uri).location
    except UserInputError as exc:
        where = tracking_uri or "the default tracking URI"
        raise LoadFailed(f"{exc.message} (tracking URI: {where})", hint=exc.hint) from exc
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
            hint="scikit-learn models saved with skops load only when logged with "
            "skops_trusted_types=[...] naming the types skops refuses (see "
            "bot.evaluation.models.HIST_GRADIENT_BOOSTING_TYPES)",
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
