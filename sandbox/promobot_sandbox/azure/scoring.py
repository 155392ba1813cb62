"""What a managed online deployment runs: the registered MLflow model, loaded with pyfunc.

Provisioning downloads the model version's artifacts from the sandbox's MLflow store
and loads them; a model that cannot be loaded, or that the no-code MLflow image cannot
serve (see `nocode`), fails provisioning the way a crashing container does on Azure.
Invocations are routed by the endpoint's traffic split, or to the deployment named in
the `azureml-model-deployment` header.
"""

from __future__ import annotations

import random
import re
import shutil
import threading
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import mlflow.artifacts
import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from mlflow.tracking import MlflowClient

from promobot_sandbox.azure.faults import FaultBook
from promobot_sandbox.azure.nocode import CRASHED, container_problems, is_no_code
from promobot_sandbox.azure.state import ArmError, JsonDict, SandboxState

with warnings.catch_warnings():
    # MLflow 3 warns about the `Any` hints of its own agent types when pyfunc is first imported.
    warnings.filterwarnings(
        "ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning
    )
    import mlflow.pyfunc

_MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
_JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<job>[^/]+)/outputs/artifacts/paths/(?P<path>.+?)/?$")


def mlflow_uri(model_uri: str) -> str:
    """Map an Azure ML model path to an MLflow artifact URI the sandbox can read.

    `azureml://jobs/<job>/outputs/artifacts/paths/<path>` is how Azure ML names the
    output of the job that produced a model; the job name is the MLflow run id.
    """
    job = _JOB_OUTPUT.match(model_uri)
    if job:
        return f"runs:/{job['job']}/{job['path']}"
    return model_uri


def artifact_location(uri: str, tracking_uri: str) -> str:
    """Resolve `runs:/<run>/<path>` in the given store, without MLflow's process-wide URI.

    Since MLflow 3 a model logged in a run is a logged model with artifacts of its
    own, so the path names a logged model of the run or, for older runs, a folder of
    the run's artifacts.
    """
    if not uri.startswith("runs:/"):
        return uri
    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    path = path.strip("/")
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    for logged in found:
        if logged.name == path:
            return str(logged.artifact_location)
    return f"{run.info.artifact_uri}/{path}"


class ModelHost:
    """Loaded models per (endpoint, deployment), and the traffic counters of each."""

    def __init__(self, state: SandboxState, faults: FaultBook) -> None:
        self._state = state
        self._faults = faults
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], Any] = {}
        self.requests: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()

    def provision(self, endpoint: str, deployment: JsonDict) -> tuple[str, str] | None:
        """Start the deployment's container; (code, message) of Azure's error when it fails."""
        name = deployment["name"]
        fault = self._faults.take_provisioning(name)
        if fault is not None:
            return ("ResourceNotReady", fault.message)
        try:
            local = self._download(endpoint, deployment)
            problems = []
            if is_no_code(deployment):
                problems = container_problems(self._state.seed.no_code, local)
            if problems:
                self._state.set_logs(endpoint, name, problems)
                return ("BadArgument", CRASHED)
            model = mlflow.pyfunc.load_model(str(local))
        except Exception as exc:
            # Loading runs the model flavour's own code: any failure is a container that crashes.
            return (
                "ResourceNotReady",
                f"User container has crashed or terminated: the model of deployment "
                f"{name} could not be loaded: {exc}",
            )
        self._state.set_logs(endpoint, name, [f"Model of deployment {name} loaded."])
        with self._lock:
            self._models[(endpoint, name)] = model
        return None

    def retire(self, endpoint: str, deployment: str) -> None:
        """Drop a deleted deployment's model and its files."""
        with self._lock:
            self._models.pop((endpoint, deployment), None)
        shutil.rmtree(self._model_dir(endpoint, deployment), ignore_errors=True)

    def _model_dir(self, endpoint: str, deployment: str) -> Path:
        return self._state.config.data_dir / "deployments" / endpoint / deployment

    def _download(self, endpoint: str, deployment: JsonDict) -> Path:
        reference = str(deployment["properties"].get("model") or "")
        found = _MODEL_ID.search(reference)
        if not found:
            raise ValueError(f"model reference {reference!r} is not a workspace model version")
        versions = self._state.data["models"].get(found["name"], {}).get("versions", {})
        version = versions.get(found["version"])
        if version is None:
            raise ValueError(f"model {found['name']} has no version {found['version']}")
        tracking_uri = self._state.config.tracking_uri
        source = artifact_location(
            mlflow_uri(str(version["properties"].get("modelUri") or "")), tracking_uri
        )
        target = self._model_dir(endpoint, deployment["name"])
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(target), tracking_uri=tracking_uri
        )
        return Path(local)

    def _load(self, endpoint: str, deployment: JsonDict) -> Any:
        return mlflow.pyfunc.load_model(str(self._download(endpoint, deployment)))

    def _model(self, endpoint: str, deployment: JsonDict) -> Any:
        key = (endpoint, deployment["name"])
        with self._lock:
            model = self._models.get(key)
        if model is None:  # after a restart: load again on first use
            with self._state.locked():
                model = self._load(endpoint, deployment)
            with self._lock:
                self._models[key] = model
        return model

    def route(self, endpoint: str, requested: str | None) -> JsonDict:
        """The deployment that serves this invocation."""
        with self._state.locked() as data:
            deployments = data["deployments"].get(endpoint, {})
            if requested:
                chosen = deployments.get(requested)
                if chosen is None:
                    raise ArmError(404, "NotFound", f"Deployment {requested} was not found.")
                return dict(chosen)
            traffic = data["endpoints"][endpoint]["properties"].get("traffic") or {}
            weighted = [(n, w) for n, w in traffic.items() if w > 0 and n in deployments]
            if not weighted:
                raise ArmError(
                    424,
                    "NoValidDeployments",
                    "No valid deployments to route to. Please check that the endpoint has at "
                    "least one deployment with positive weight values or use a deployment "
                    "specific header to route.",
                )
            names, weights = zip(*weighted, strict=True)
            return dict(deployments[random.choices(names, weights=weights)[0]])  # noqa: S311

    def score(self, endpoint: str, deployment: JsonDict, payload: Any) -> list[Any]:
        """Predictions of the deployment's model for the request body."""
        key = (endpoint, deployment["name"])
        try:
            return self._predict(key, deployment, payload)
        except ArmError:
            with self._lock:
                self.errors[key] += 1
            raise
        finally:
            with self._lock:
                self.requests[key] += 1

    def _predict(self, key: tuple[str, str], deployment: JsonDict, payload: Any) -> list[Any]:
        name = key[1]
        if deployment["properties"].get("provisioningState") != "Succeeded":
            raise ArmError(503, "DeploymentNotReady", f"Deployment {name} is not ready.")
        fault = self._faults.take_scoring(name)
        if fault is not None:
            raise ArmError(fault.status, "UserError", f"Deployment {name} failed to score.")
        try:
            frame = request_frame(payload)
            predictions = self._model(key[0], deployment).predict(frame)
        except ValueError as exc:
            raise ArmError(400, "BadRequest", f"Invalid input: {exc}") from exc
        return _jsonable(predictions)


def request_frame(payload: Any) -> pd.DataFrame:
    """The input rows of an Azure ML (or MLflow) scoring request."""
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    if "input_data" in payload:
        data = payload["input_data"]
        if isinstance(data, dict) and "data" in data:
            return pd.DataFrame(data["data"], columns=data.get("columns"), index=data.get("index"))
        return pd.DataFrame(data)
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        return pd.DataFrame(split["data"], columns=split.get("columns"))
    if "dataframe_records" in payload:
        return pd.DataFrame(payload["dataframe_records"])
    raise ValueError("expected `input_data`, `dataframe_split` or `dataframe_records`")


def _jsonable(predictions: Any) -> list[Any]:
    if isinstance(predictions, pd.DataFrame | pd.Series):
        predictions = predictions.to_numpy()
    if isinstance(predictions, np.ndarray):
        return list(predictions.tolist())
    return list(predictions)
