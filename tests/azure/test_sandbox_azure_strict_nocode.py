"""No-code MLflow deployments follow the image's rules, and the scoring front end fails in
plain text; driven by the unmodified azure-ai-ml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.azure.conftest import FEATURES, ROWS, STRICT_MODEL, StrictAzure, ml_entities
from tests.support.http import LOCAL

CRASHED = "User container has crashed or terminated: Liveness probe failed"


def _deploy(strict: StrictAzure, endpoint: str, version: str, **fields: Any) -> Any:
    """Create the endpoint, then start creating deployment `v-<version>` of the strict model."""
    entities = ml_entities()
    ml = strict.ml()
    ml.online_endpoints.begin_create_or_update(
        entities.ManagedOnlineEndpoint(name=endpoint, auth_mode="key")
    ).result()
    return ml.online_deployments.begin_create_or_update(
        entities.ManagedOnlineDeployment(
            name=f"v-{version}",
            endpoint_name=endpoint,
            model=f"azureml:{STRICT_MODEL}:{version}",
            instance_type="Standard_DS3_v2",
            instance_count=1,
            **fields,
        )
    )


def _crash_log(strict: StrictAzure, endpoint: str, version: str) -> str:
    poller = _deploy(strict, endpoint, version)
    with pytest.raises(HttpResponseError) as failed:
        poller.result()
    assert failed.value.error is not None
    assert failed.value.error.code == "BadArgument"
    assert CRASHED in str(failed.value)
    logs: str = strict.ml().online_deployments.get_logs(f"v-{version}", endpoint, 100)
    return logs


def test_a_model_logged_with_mlflow_3_crashes_the_no_code_image(strict: StrictAzure) -> None:
    """Provisioning fails as the container does; the logs say which MLflow the image takes."""
    strict.register("31", strict.log_model(31.0, mlflow_version="3.17.2"))

    logs = _crash_log(strict, "ep-mlflow3", "31")

    assert "mlflow<3" in logs
    assert "mlflow==3.17.2" in logs


def test_a_model_without_azureml_ai_monitoring_crashes_the_no_code_image(
    strict: StrictAzure,
) -> None:
    """The generated scoring script imports azureml.ai.monitoring: the conda.yaml needs it."""
    strict.register("32", strict.log_model(32.0, packages=()))

    logs = _crash_log(strict, "ep-nomonitor", "32")

    assert "ModuleNotFoundError" in logs
    assert "azureml-ai-monitoring" in logs


def test_a_model_without_a_pyfunc_flavour_crashes_the_no_code_image(strict: StrictAzure) -> None:
    """Only the python_function flavour gets a generated scoring script."""
    strict.register("33", strict.log_model(33.0, pyfunc=False))

    assert "no python_function flavor" in _crash_log(strict, "ep-nopyfunc", "33")


def test_a_custom_model_without_an_environment_is_refused_at_once(strict: StrictAzure) -> None:
    """Only mlflow_model versions deploy without an environment: a synchronous 400."""
    strict.register("34", strict.log_model(34.0), model_type="custom_model")

    with pytest.raises(HttpResponseError) as refused:
        _deploy(strict, "ep-custom", "34")

    assert refused.value.status_code == 400
    assert "'Environment Id' must not be empty." in str(refused.value)
    with strict.arm() as arm:
        assert arm.get("/onlineEndpoints/ep-custom/deployments/v-34").status_code == 404


def test_the_rules_change_as_azure_changes_them(strict: StrictAzure) -> None:
    """When the image takes MLflow 3, an MLflow 3 model deploys and serves."""
    strict.register("35", strict.log_model(35.0, mlflow_version="3.17.2"))
    defaults = strict.seed()["no_code"]
    strict.seed(no_code={**defaults, "mlflow_below": "4"})
    try:
        deployment = _deploy(strict, "ep-rules", "35").result()
    finally:
        strict.seed(no_code=defaults)

    assert deployment.provisioning_state == "Succeeded"


@pytest.fixture(scope="module")
def serving(strict_world: StrictAzure) -> str:
    """An endpoint whose deployment v-1 takes all the traffic."""
    _deploy(strict_world, "ep-frontend", "1").result()
    ml = strict_world.ml()
    endpoint = ml.online_endpoints.get("ep-frontend")
    endpoint.traffic = {"v-1": 100}
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    return "ep-frontend"


@pytest.fixture
def request_file(tmp_path: Path) -> str:
    """A scoring request in the no-code image's `input_data` format."""
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"input_data": {"columns": FEATURES, "data": ROWS}}))
    return str(path)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (502, "upstream connect error or disconnect/reset before headers"),
        (503, "no healthy upstream"),
        (504, "upstream request timeout"),
    ],
)
def test_the_front_end_fails_in_plain_text(
    strict: StrictAzure, serving: str, request_file: str, status: int, text: str
) -> None:
    """Not JSON, so azure-ai-ml raises `MlException`, not `HttpResponseError`; afterwards
    the endpoint answers again."""
    ml = strict.ml()
    from azure.ai.ml.exceptions import MlException

    strict.fault(kind="frontend", endpoint=serving, status=status, count=10)

    with pytest.raises(MlException) as failed:
        ml.online_endpoints.invoke(serving, request_file=request_file)
    LOCAL.delete(f"{strict.base_url}/_sandbox/faults").raise_for_status()
    answer = ml.online_endpoints.invoke(serving, request_file=request_file)

    assert not isinstance(failed.value, HttpResponseError)
    assert text in str(failed.value)
    assert json.loads(answer) == [1.0, 1.0]
