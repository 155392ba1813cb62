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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
from tests.support.http import LOCAL

MODEL = "churn"
VERSIONS = ("1", "2", "3")
FEATURES = ["tenure", "charges", "calls"]
ROWS = [[1.0, 20.0, 0.0], [12.0, 70.5, 3.0]]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_IDS = range(11, 80)
"""Azure DevOps pipelines of the session's sandbox: each declares what azure-pipelines.yml does."""
ROOMY_QUOTA = {"family_limits": {"standardDSv2Family": 10_000}}
"""Quota granted to the session's sandbox: its tests create many Standard_DS3_v2 deployments
and never delete most of them, so the default 24 cores would run out after three."""


def example_pipelines(ids: Iterable[int]) -> list[dict[str, Any]]:
    """Pipelines declaring the runtime parameters of the repository's azure-pipelines.yml."""
    from ruamel.yaml import YAML

    declared = YAML(typ="safe").load(PROJECT_ROOT / "azure-pipelines.yml")["parameters"]
    parameters = [
        {key: p[key] for key in ("name", "type", "default", "values") if key in p} for p in declared
    ]
    return [{"id": i, "name": f"models-cd-{i}", "parameters": parameters} for i in ids]


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
        response = LOCAL.post(f"{self.base_url}/_sandbox/faults", json={"fault": fault})
        response.raise_for_status()

    def seed(self, **patch: Any) -> dict[str, Any]:
        """Change the sandbox's seed (quota, names taken, identities, ...); returns it whole."""
        response = LOCAL.patch(f"{self.base_url}/_sandbox/seed", json=patch)
        response.raise_for_status()
        seeded: dict[str, Any] = response.json()
        return seeded

    def clock(self) -> float:
        """The sandbox's time (epoch seconds), which may run faster than the wall clock."""
        now: float = LOCAL.get(f"{self.base_url}/_sandbox/clock").json()["now"]
        return now

    def register(
        self,
        version: str,
        *,
        model: str = MODEL,
        model_type: str = "mlflow_model",
        mlflow_version: str = "",
        packages: tuple[str, ...] = ("azureml-ai-monitoring",),
        pyfunc: bool = True,
    ) -> None:
        """Log a model predicting `version` as a run's `model/` output and register it as that
        version of `model`; by default one the no-code MLflow image serves."""
        import tempfile

        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.config.tracking_uri)
        experiment = client.get_experiment_by_name("churn")
        assert experiment is not None
        run = client.create_run(experiment.experiment_id)
        with tempfile.TemporaryDirectory() as folder:
            model_dir = Path(folder) / "model"
            logged_with = mlflow_version or SERVED_MLFLOW
            predicts = float(version) if version.isdigit() else 0.0
            _save_model(model_dir, predicts, logged_with, packages, pyfunc=pyfunc)
            client.log_artifacts(run.info.run_id, str(model_dir), "model")
        client.set_terminated(run.info.run_id)
        self.run_ids[version] = run.info.run_id
        ml = build_ml_client(self.settings())
        ml.models.create_or_update(
            azure_ai_ml().entities.Model(
                name=model,
                version=version,
                type=model_type,
                path=f"azureml://jobs/{run.info.run_id}/outputs/artifacts/paths/model/",
            )
        )

    def requests(self, pattern: str = "") -> list[dict[str, Any]]:
        """Logged requests whose `METHOD path` matches `pattern`."""
        entries = LOCAL.get(f"{self.base_url}/_sandbox/requests").json()
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
    """Log one run per version in the sandbox's MLflow store, each with its metrics and, as
    its `model/` output, a model the no-code MLflow image serves; returns version -> run id."""
    import tempfile

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=config.tracking_uri)
    experiment = client.create_experiment("churn", artifact_location=str(root / "artifacts"))
    runs = {}
    for version in VERSIONS:
        run = client.create_run(experiment)
        run_id = run.info.run_id
        client.log_metric(run_id, "rmse", 1.0 / int(version))
        client.log_metric(run_id, "r2", 0.5 + int(version) / 10)
        with tempfile.TemporaryDirectory() as folder:
            model_dir = Path(folder) / "model"
            _save_model(model_dir, float(version), SERVED_MLFLOW, MONITORING, pyfunc=True)
            client.log_artifacts(run_id, str(model_dir), "model")
        client.set_terminated(run_id)
        runs[version] = run_id
    return runs


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
        data_dir=root / "data",
        operation_seconds=0.05,
        poll_after_ms=20,
        pipeline_seconds=0.1,
        seed={"pipelines": example_pipelines(PIPELINE_IDS), "quota": ROOMY_QUOTA},
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


@contextmanager
def own_sandbox(azure: AzureWorld, folder: Path, **config: Any) -> Iterator[AzureWorld]:
    """A sandbox of its own (other timings or seed), sharing the session's MLflow store, with
    versions 1-3 of `churn` registered and room for Standard_DS3_v2 deployments."""
    values: dict[str, Any] = {
        "data_dir": folder / "sandbox",
        "operation_seconds": 0.05,
        "poll_after_ms": 20,
        "pipeline_seconds": 0.05,
        "mlflow_tracking_uri": azure.config.tracking_uri,
        "seed": {"quota": ROOMY_QUOTA},
    }
    values.update(config)
    settings = SandboxAzureConfig.model_validate(values)
    with SandboxAzureServer(settings) as server:
        runs = {version: azure.run_ids[version] for version in VERSIONS}
        world = AzureWorld(server, settings, azure.requests_dir, runs)
        _register(world)
        yield world


@pytest.fixture
def azure(azure_world: AzureWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureWorld]:
    """The session's sandbox with no faults left over, and azure-ai-ml's global cloud undone."""
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    LOCAL.delete(f"{azure_world.base_url}/_sandbox/faults").raise_for_status()
    yield azure_world
    LOCAL.delete(f"{azure_world.base_url}/_sandbox/faults").raise_for_status()


# The strict sandbox Azure ---------------------------------------------------------------
# A session of its own for tests of what the sandbox Azure imitates: seeded with a pipeline
# and a quota, with models the no-code MLflow image serves, and SDK clients that sign in
# with any seeded token. It needs nothing from the bot.

STRICT_MODEL = "strict"
STRICT_PIPELINE = 41
SERVED_MLFLOW = "2.16.2"
"""The MLflow version strict models say they were logged with: one the no-code image serves."""
MONITORING = ("azureml-ai-monitoring",)


@dataclass
class StrictAzure:
    """A running strict sandbox, its MLflow experiment, and clients for the real SDKs."""

    server: SandboxAzureServer
    config: SandboxAzureConfig
    experiment_id: str

    @property
    def base_url(self) -> str:
        """Where the sandbox listens."""
        return self.server.base_url

    def arm(self, token: str | None = None) -> httpx.Client:
        """A raw client for the workspace's Resource Manager paths."""
        return httpx.Client(
            base_url=self.base_url + self.config.workspace_path,
            headers={"Authorization": f"Bearer {token or self.config.arm_token}"},
            params={"api-version": "2023-04-01-preview"},
        )

    def ml(self, token: str | None = None, retries: int = 0) -> Any:
        """An unmodified azure-ai-ml `MLClient` pointed at the sandbox, signed in with `token`."""
        return strict_ml_client(self, token or self.config.arm_token, retries)

    def devops(self) -> Any:
        """The unmodified azure-devops Pipelines client of the sandbox's organization."""
        from azure.devops.connection import Connection
        from msrest.authentication import BasicAuthentication

        organization = f"{self.base_url}/{self.config.devops_organization}"
        credentials = BasicAuthentication("", self.config.devops_pat)
        connection = Connection(base_url=organization, creds=credentials)
        return connection.clients_v7_1.get_pipelines_client()

    def seed(self, **patch: Any) -> dict[str, Any]:
        """Change the sandbox's seed through its test hook; returns the whole seed."""
        response = LOCAL.patch(f"{self.base_url}/_sandbox/seed", json=patch)
        response.raise_for_status()
        seeded: dict[str, Any] = response.json()
        return seeded

    def fault(self, **fault: Any) -> None:
        """Inject a fault through the sandbox's test hook."""
        LOCAL.post(f"{self.base_url}/_sandbox/faults", json={"fault": fault}).raise_for_status()

    def statuses(self, pattern: str) -> list[int]:
        """Statuses of the logged requests whose `METHOD path` matches `pattern`."""
        entries = LOCAL.get(f"{self.base_url}/_sandbox/requests").json()
        return [e["status"] for e in entries if re.search(pattern, f"{e['method']} {e['path']}")]

    def clock(self) -> float:
        """The sandbox's time (epoch seconds), which may run faster than the wall clock."""
        now: float = LOCAL.get(f"{self.base_url}/_sandbox/clock").json()["now"]
        return now

    def register(self, version: str, run_id: str, model_type: str = "mlflow_model") -> None:
        """Register the `model/` output of a run as a version of the strict model."""
        body = {
            "properties": {
                "modelType": model_type,
                "modelUri": f"azureml://jobs/{run_id}/outputs/artifacts/paths/model/",
            }
        }
        with self.arm() as arm:
            arm.put(f"/models/{STRICT_MODEL}/versions/{version}", json=body).raise_for_status()

    def log_model(
        self,
        predicts: float,
        *,
        mlflow_version: str = SERVED_MLFLOW,
        packages: tuple[str, ...] = MONITORING,
        pyfunc: bool = True,
    ) -> str:
        """Log a model that predicts `predicts` as a run's `model/` output; returns the run id.

        It is saved by this process's MLflow, then made to look logged by `mlflow_version`
        (MLmodel and the conda.yaml pin), with `packages` in its conda.yaml."""
        import tempfile

        from mlflow.tracking import MlflowClient

        with tempfile.TemporaryDirectory() as folder:
            model_dir = Path(folder) / "model"
            _save_model(model_dir, predicts, mlflow_version, packages, pyfunc=pyfunc)
            client = MlflowClient(tracking_uri=self.config.tracking_uri)
            run = client.create_run(self.experiment_id)
            client.log_artifacts(run.info.run_id, str(model_dir), "model")
            client.set_terminated(run.info.run_id)
        run_id: str = run.info.run_id
        return run_id


def _save_model(
    path: Path, predicts: float, mlflow_version: str, packages: tuple[str, ...], *, pyfunc: bool
) -> None:
    import yaml

    features = np.random.default_rng(0).normal(size=(20, len(FEATURES)))
    model = DummyRegressor(strategy="constant", constant=predicts).fit(features, np.zeros(20))
    mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn", *packages])
    mlmodel = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8"))
    mlmodel["mlflow_version"] = mlflow_version
    if not pyfunc:
        mlmodel["flavors"].pop("python_function")
    (path / "MLmodel").write_text(yaml.safe_dump(mlmodel), encoding="utf-8")
    conda = yaml.safe_load((path / "conda.yaml").read_text(encoding="utf-8"))
    for dependency in conda["dependencies"]:
        if isinstance(dependency, dict):
            dependency["pip"] = [
                f"mlflow=={mlflow_version}" if re.match(r"mlflow(==|$)", entry) else entry
                for entry in dependency["pip"]
            ]
    (path / "conda.yaml").write_text(yaml.safe_dump(conda), encoding="utf-8")


def ml_entities() -> Any:
    """`azure.ai.ml.entities`, imported without marshmallow's deprecation warnings."""
    from marshmallow.warnings import Marshmallow4Warning

    with warnings.catch_warnings():
        # azure-ai-ml's schemas use marshmallow 3 options that marshmallow deprecates on import.
        warnings.filterwarnings("ignore", category=Marshmallow4Warning)
        from azure.ai.ml import entities
    return entities


def strict_ml_client(world: StrictAzure, token: str, retries: int) -> Any:
    """azure-ai-ml's `MLClient` for the sandbox: its cloud's endpoints on the loopback
    address, bearer tokens over plain HTTP, and a static token."""
    import time

    from azure.core.credentials import AccessToken
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

    ml_entities()
    from azure.ai.ml import MLClient

    class StaticToken:
        def get_token(self, *_scopes: str, **_kwargs: Any) -> AccessToken:
            return AccessToken(token, int(time.time()) + 3600)

    class LoopbackPolicy(ARMChallengeAuthenticationPolicy):
        def on_request(self, request: Any) -> None:
            request.context["enforce_https"] = False  # loopback only: the sandbox
            super().on_request(request)

    base = world.base_url
    credential = StaticToken()
    return MLClient(
        credential,
        subscription_id=world.config.subscription_id,
        resource_group_name=world.config.resource_group,
        workspace_name=world.config.workspace,
        cloud=f"strict-{world.server.port}",
        cloud_metadata={
            **dict.fromkeys(
                (
                    "azure_portal",
                    "resource_manager",
                    "active_directory",
                    "aml_resource_id",
                    "registry_discovery_endpoint",
                ),
                f"{base}/",
            ),
            "storage_endpoint": "core.windows.net",
        },
        authentication_policy=LoopbackPolicy(credential, f"{base}/.default"),
        retry_total=retries,
        show_progress=False,
        enable_telemetry=False,
    )


def strict_config(data_dir: Path, **overrides: Any) -> SandboxAzureConfig:
    """A fast sandbox with the strict tests' pipeline and room in the DSv2 family."""
    pipeline = {
        "id": STRICT_PIPELINE,
        "name": "models-cd",
        "parameters": [
            {"name": "model"},
            {"name": "version"},
            {"name": "environment", "values": ["staging", "production"]},
        ],
    }
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "operation_seconds": 0.05,
        "poll_after_ms": 20,
        "pipeline_seconds": 0.05,
        "seed": {
            "pipelines": [pipeline],
            "quota": {"family_limits": {"standardDSv2Family": 10_000}},
        },
    }
    values.update(overrides)
    return SandboxAzureConfig.model_validate(values)


@contextmanager
def own_strict_sandbox(strict: StrictAzure, folder: Path, **config: Any) -> Iterator[StrictAzure]:
    """A strict sandbox of its own (other timings or seed), sharing the session's MLflow
    store, with version 1 of the strict model registered."""
    settings = strict_config(
        folder / "sandbox", mlflow_tracking_uri=strict.config.tracking_uri, **config
    )
    with SandboxAzureServer(settings) as server:
        world = StrictAzure(server, settings, strict.experiment_id)
        world.register("1", strict.log_model(1.0))
        yield world


@pytest.fixture(scope="session")
def strict_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrictAzure]:
    """The strict sandbox, with versions 1-3 of `strict` that the no-code image serves."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("sandbox-azure-strict")
    config = strict_config(root / "data")
    experiment = MlflowClient(tracking_uri=config.tracking_uri).create_experiment(
        STRICT_MODEL, artifact_location=str(root / "artifacts")
    )
    cloud = os.environ.get("AZUREML_CURRENT_CLOUD")
    try:
        with SandboxAzureServer(config) as server:
            world = StrictAzure(server, config, experiment)
            for version in ("1", "2", "3"):
                world.register(version, world.log_model(float(version)))
            yield world
    finally:
        if cloud is None:
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
        else:
            os.environ["AZUREML_CURRENT_CLOUD"] = cloud


@pytest.fixture
def strict(strict_world: StrictAzure, monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictAzure]:
    """The strict sandbox with no faults left over, and azure-ai-ml's global cloud undone."""
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    LOCAL.delete(f"{strict_world.base_url}/_sandbox/faults").raise_for_status()
    yield strict_world
    LOCAL.delete(f"{strict_world.base_url}/_sandbox/faults").raise_for_status()


@pytest.fixture(autouse=True)
def _sdk_invoke_headers() -> Iterator[None]:
    """azure-ai-ml's `online_endpoints.invoke` writes each call's key and deployment into
    one class-level header dict (`EndpointInvokeFields.DEFAULT_HEADER`), so a later call
    without `deployment_name` would still be routed to an earlier call's deployment; every
    test starts from the SDK's own defaults."""
    azure_ai_ml()
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    defaults = dict(EndpointInvokeFields.DEFAULT_HEADER)
    yield
    EndpointInvokeFields.DEFAULT_HEADER.clear()
    EndpointInvokeFields.DEFAULT_HEADER.update(defaults)
