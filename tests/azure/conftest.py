"""One sandbox Azure per test session, with real MLflow models registered in its workspace.

Model version N of `churn` is a scikit-learn regressor that predicts N for every
row, so a scoring response tells which version answered. The runs that produced
the versions live in the sandbox's MLflow store, with their metrics.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from sklearn.dummy import DummyRegressor

with warnings.catch_warnings():
    # MLflow 3 warns about the `Any` hints of its own agent types when pyfunc is first imported.
    warnings.filterwarnings("ignore", message=".*inferred as AnyType", category=UserWarning)
    import mlflow.pyfunc
    import mlflow.sklearn

from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.server import SandboxAzureServer

from bot.azure.clients import azure_ai_ml, build_ml_client
from bot.azure.settings import AzureSettings
from bot.domain.manifest import ModelManifest

MODEL = "churn"
VERSIONS = ("1", "2", "3")
FEATURES = ["tenure", "charges", "calls"]
ROWS = [[1.0, 20.0, 0.0], [12.0, 70.5, 3.0]]


@dataclass
class AzureWorld:
    """The running sandbox and what was registered in it."""

    server: SandboxAzureServer
    config: SandboxAzureConfig
    requests_dir: Path
    run_ids: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Where the sandbox listens."""
        return self.server.base_url

    def settings(self, **overrides: Any) -> AzureSettings:
        """Settings that point azure-ai-ml at the sandbox."""
        values: dict[str, Any] = {
            "subscription_id": self.config.subscription_id,
            "resource_group": self.config.resource_group,
            "workspace": self.config.workspace,
            "base_url": self.base_url,
            "token": self.config.arm_token,
            "max_retries": 3,
            "smoke_requests_dir": self.requests_dir,
            "health_probes": 2,
        }
        values.update(overrides)
        return AzureSettings(**values)

    def fault(self, **fault: Any) -> None:
        """Inject a fault through the sandbox's HTTP hook."""
        response = httpx.post(f"{self.base_url}/_sandbox/faults", json={"fault": fault})
        response.raise_for_status()

    def requests(self, pattern: str = "") -> list[dict[str, Any]]:
        """Logged requests whose `METHOD path` matches `pattern`."""
        entries = httpx.get(f"{self.base_url}/_sandbox/requests").json()
        return [e for e in entries if re.search(pattern, f"{e['method']} {e['path']}")]

    def score(
        self, endpoint: str, deployment: str | None = None, times: int = 1
    ) -> list[tuple[str, list[float]]]:
        """Invoke the endpoint over HTTP: (deployment that answered, predictions) per call."""
        ml = build_ml_client(self.settings())
        scoring_uri = ml.online_endpoints.get(endpoint).scoring_uri
        key = ml.online_endpoints.get_keys(endpoint).primary_key
        headers = {"Authorization": f"Bearer {key}"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        body = {"input_data": {"columns": FEATURES, "data": ROWS}}
        answers = []
        with httpx.Client() as client:
            for _ in range(times):
                response = client.post(scoring_uri, json=body, headers=headers)
                response.raise_for_status()
                answers.append((response.headers["azureml-model-deployment"], response.json()))
        return answers


def make_manifest(version: str, endpoint: str, **deployment: Any) -> ModelManifest:
    """A manifest deploying `churn` `version` to `endpoint` on Azure ML."""
    spec: dict[str, Any] = {"target": "azureml", "endpoint": endpoint, "step_pause_seconds": 0}
    spec.update(deployment)
    return ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": MODEL,
            "environment": "production",
            "version": version,
            "source": {"registry": "azureml", "uri": f"azureml:{MODEL}:{version}"},
            "deployment": spec,
        }
    )


def _train(config: SandboxAzureConfig, root: Path) -> dict[str, str]:
    """Log one run per version in the sandbox's MLflow store; returns version -> run id."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(config.tracking_uri)
    try:
        experiment = mlflow.create_experiment("churn", artifact_location=str(root / "artifacts"))
        features = np.random.default_rng(0).normal(size=(20, len(FEATURES)))
        runs = {}
        for version in VERSIONS:
            model = DummyRegressor(strategy="constant", constant=float(version))
            model.fit(features, np.zeros(len(features)))
            with mlflow.start_run(experiment_id=experiment) as run:
                mlflow.log_metrics({"rmse": 1.0 / int(version), "r2": 0.5 + int(version) / 10})
                mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
            runs[version] = run.info.run_id
        return runs
    finally:
        mlflow.set_tracking_uri(previous)


def _register(world: AzureWorld) -> None:
    ml = build_ml_client(world.settings())
    model_class = azure_ai_ml().entities.Model
    for version, run_id in world.run_ids.items():
        ml.models.create_or_update(
            model_class(
                name=MODEL,
                version=version,
                type="mlflow_model",
                path=f"azureml://jobs/{run_id}/outputs/artifacts/paths/model/",
                tags={"team": "churn-ds", "version": version},
            )
        )
    # A version whose artifacts do not exist: provisioning it fails for real.
    ml.models.create_or_update(
        model_class(
            name=MODEL,
            version="9",
            type="mlflow_model",
            path="azureml://jobs/missing-job/outputs/artifacts/paths/model/",
        )
    )


@pytest.fixture(scope="session")
def azure_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureWorld]:
    """The sandbox, fast: operations finish in 50 ms and clients are told to poll every 20 ms."""
    root = tmp_path_factory.mktemp("sandbox-azure")
    config = SandboxAzureConfig(
        data_dir=root / "data", operation_seconds=0.05, poll_after_ms=20, pipeline_seconds=0.1
    )
    requests_dir = root / "requests"
    requests_dir.mkdir()
    body = {"input_data": {"columns": FEATURES, "index": [0, 1], "data": ROWS}}
    (requests_dir / f"{MODEL}.json").write_text(json.dumps(body))
    run_ids = _train(config, root)
    cloud = os.environ.get("AZUREML_CURRENT_CLOUD")
    try:
        with SandboxAzureServer(config) as server:
            world = AzureWorld(server, config, requests_dir, run_ids)
            _register(world)
            yield world
    finally:
        # MLClient records the cloud it was given in the process environment.
        if cloud is None:
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
        else:
            os.environ["AZUREML_CURRENT_CLOUD"] = cloud


@pytest.fixture
def azure(azure_world: AzureWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureWorld]:
    """The session's sandbox with no faults left over, and azure-ai-ml's global cloud undone."""
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    httpx.delete(f"{azure_world.base_url}/_sandbox/faults").raise_for_status()
    yield azure_world
    httpx.delete(f"{azure_world.base_url}/_sandbox/faults").raise_for_status()
