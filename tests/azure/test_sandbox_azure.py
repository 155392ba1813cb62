"""The sandbox Azure speaks ARM's protocol with bodies shaped like Azure's own examples."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.server import SandboxAzureServer

from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import FEATURES, ROWS, AzureWorld, make_manifest

API = {"api-version": "2023-04-01-preview"}
PLACEHOLDER_KEYS = {"string"}
"""Keys the examples use for user-chosen map entries (tags, traffic, variables)."""


def _arm(azure: AzureWorld) -> httpx.Client:
    return httpx.Client(
        base_url=azure.base_url + azure.config.workspace_path,
        headers={"Authorization": f"Bearer {azure.config.arm_token}"},
        params=API,
    )


def _example(fixtures_dir: Path, name: str) -> dict[str, Any]:
    path = fixtures_dir / "azure" / "ml-online-endpoints" / name
    body: dict[str, Any] = json.loads(path.read_text())["responses"]["200"]["body"]
    return body


def _same_shape(example: Any, actual: Any, where: str, required: set[str]) -> list[str]:
    """Differences in JSON types wherever both have a value; missing required keys."""
    if example is None or actual is None:
        return []
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object"]
        here = {key for key in required if "." not in key}
        problems = [f"{where}.{key}: missing" for key in sorted(here - set(actual))]
        if set(example) <= PLACEHOLDER_KEYS:  # a map: compare the values' shape
            shapes = list(example.values())[:1]
            return problems + [
                p
                for shape in shapes
                for v in actual.values()
                for p in _same_shape(shape, v, where + "[]", set())
            ]
        for key, value in example.items():
            if key in actual:
                nested = {k.split(".", 1)[1] for k in required if k.startswith(key + ".")}
                problems += _same_shape(value, actual[key], f"{where}.{key}", nested)
        return problems
    kinds = (bool, int | float, str, list)
    for kind in kinds:
        if isinstance(example, kind):
            return [] if isinstance(actual, kind) else [f"{where}: expected {kind}, got {actual!r}"]
    return []


def _required(*paths: str) -> set[str]:
    return {p.split(".", 1)[0] for p in paths} | {p for p in paths if "." in p}


def test_endpoints_and_deployments_are_shaped_like_azures_examples(
    azure: AzureWorld, fixtures_dir: Path
) -> None:
    """What the SDK reads is present, and every shared field has the example's JSON type."""
    AzureMLTarget(azure.settings()).apply(make_manifest("1", "ep-shape"), lambda _l: None)
    with _arm(azure) as arm:
        endpoint = arm.get("/onlineEndpoints/ep-shape").json()
        deployment = arm.get("/onlineEndpoints/ep-shape/deployments/v-1").json()

    endpoint_required = _required(
        "id",
        "name",
        "type",
        "location",
        "tags",
        "identity.type",
        "systemData.createdAt",
        "properties.scoringUri",
        "properties.authMode",
        "properties.provisioningState",
        "properties.traffic",
    )
    deployment_required = _required(
        "id",
        "name",
        "type",
        "sku.capacity",
        "systemData.lastModifiedAt",
        "properties.model",
        "properties.instanceType",
        "properties.provisioningState",
        "properties.endpointComputeType",
        "properties.scaleSettings.scaleType",
        "properties.livenessProbe.period",
        "properties.requestSettings.requestTimeout",
    )
    endpoint_example = _example(fixtures_dir, "2025-09-01/OnlineEndpoint.get.json")
    deployment_example = _example(fixtures_dir, "2022-10-01/ManagedOnlineDeployment.get.json")
    assert _same_shape(endpoint_example, endpoint, "endpoint", endpoint_required) == []
    assert _same_shape(deployment_example, deployment, "deployment", deployment_required) == []
    assert endpoint["properties"]["traffic"] == {"v-1": 100}
    assert deployment["properties"]["provisioningState"] == "Succeeded"


def test_writes_follow_the_long_running_operation_protocol(azure: AzureWorld) -> None:
    """PUT: 201 + Azure-AsyncOperation polled to Succeeded; DELETE: 202 + Location polled to 200."""
    with _arm(azure) as arm:
        created = arm.put(
            "/onlineEndpoints/ep-lro",
            json={"location": "westeurope", "properties": {"authMode": "Key"}},
        )
        assert created.status_code == 201
        assert created.json()["properties"]["provisioningState"] == "Creating"
        status_url = created.headers["Azure-AsyncOperation"]
        assert "retry-after-ms" in created.headers or "Retry-After" in created.headers
        statuses = _poll(arm, status_url, lambda r: r.json()["status"] != "InProgress")
        assert statuses[-1].json()["status"] == "Succeeded"
        assert (
            arm.get("/onlineEndpoints/ep-lro").json()["properties"]["provisioningState"]
            == "Succeeded"
        )

        deleted = arm.delete("/onlineEndpoints/ep-lro")
        assert deleted.status_code == 202
        results = _poll(arm, deleted.headers["Location"], lambda r: r.status_code != 202)
        assert results[-1].status_code == 200
        gone = arm.get("/onlineEndpoints/ep-lro")
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "ResourceNotFound"


def _poll(arm: httpx.Client, url: str, done: Any) -> list[httpx.Response]:
    answers = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = arm.get(url, params={})
        answers.append(answer)
        if done(answer):
            return answers
    pytest.fail(f"{url} did not finish within 20 s")


@pytest.mark.parametrize(
    ("traffic", "message"),
    [
        ({"v-1": 60}, "add up to 0 or 100"),
        ({"v-1": 50, "v-nope": 50}, "does not exist"),
    ],
)
def test_invalid_traffic_is_refused_like_azure_does(
    azure: AzureWorld, traffic: dict[str, int], message: str
) -> None:
    """A 400 with ARM's error body; the traffic does not change."""
    AzureMLTarget(azure.settings()).apply(make_manifest("1", "ep-traffic"), lambda _l: None)
    with _arm(azure) as arm:
        answer = arm.put("/onlineEndpoints/ep-traffic", json={"properties": {"traffic": traffic}})
        assert answer.status_code == 400
        assert message in answer.json()["error"]["message"]
        assert arm.get("/onlineEndpoints/ep-traffic").json()["properties"]["traffic"] == {
            "v-1": 100
        }


def test_a_deployment_with_traffic_cannot_be_deleted(azure: AzureWorld) -> None:
    """Azure asks for its traffic to be taken away first."""
    AzureMLTarget(azure.settings()).apply(make_manifest("1", "ep-nodelete"), lambda _l: None)
    with _arm(azure) as arm:
        answer = arm.delete("/onlineEndpoints/ep-nodelete/deployments/v-1")

    assert answer.status_code == 400
    assert "set its traffic to 0" in answer.json()["error"]["message"]


def test_requests_without_credentials_are_refused(azure: AzureWorld) -> None:
    """ARM wants the bearer token, DevOps the PAT, the scoring URI the endpoint key."""
    AzureMLTarget(azure.settings()).apply(make_manifest("1", "ep-auth-raw"), lambda _l: None)
    workspace = httpx.get(azure.base_url + azure.config.workspace_path, params=API)
    devops = httpx.options(f"{azure.base_url}/{azure.config.devops_organization}/_apis")
    score = httpx.post(
        f"{azure.base_url}/inference/ep-auth-raw/score",
        json={"input_data": {"columns": FEATURES, "data": ROWS}},
        headers={"Authorization": "Bearer wrong"},
    )

    assert (workspace.status_code, workspace.json()["error"]["code"]) == (
        401,
        "AuthenticationFailed",
    )
    assert devops.status_code == 401
    assert score.status_code == 401


def test_faults_fire_their_count_then_stop(azure: AzureWorld) -> None:
    """The test hook lists active faults; a fault disappears after its last firing."""
    azure.fault(kind="http", method="GET", path="/onlineEndpoints$", status=503, count=2)
    assert httpx.get(f"{azure.base_url}/_sandbox/faults").json()[0]["remaining"] == 2

    with _arm(azure) as arm:
        codes = [arm.get("/onlineEndpoints").status_code for _ in range(3)]

    assert codes == [503, 503, 200]
    assert httpx.get(f"{azure.base_url}/_sandbox/faults").json() == []


def test_state_survives_a_restart(azure: AzureWorld, tmp_path: Path) -> None:
    """A sandbox started again on the same folder serves the same endpoint and model."""
    config = SandboxAzureConfig(
        data_dir=tmp_path / "sandbox",
        operation_seconds=0.02,
        poll_after_ms=20,
        mlflow_tracking_uri=azure.config.tracking_uri,
    )
    model = {
        "properties": {
            "modelType": "mlflow_model",
            "modelUri": f"azureml://jobs/{azure.run_ids['3']}/outputs/artifacts/paths/model/",
        }
    }
    with SandboxAzureServer(config) as first:
        restarted_world = AzureWorld(first, config, azure.requests_dir, azure.run_ids)
        with _arm(restarted_world) as arm:
            assert arm.put("/models/churn/versions/3", json=model).status_code == 201
        AzureMLTarget(restarted_world.settings()).apply(
            make_manifest("3", "ep-restart"), lambda _l: None
        )

    with SandboxAzureServer(config) as second:
        again = AzureWorld(second, config, azure.requests_dir, azure.run_ids)
        assert again.score("ep-restart") == [("v-3", [3.0, 3.0])]
