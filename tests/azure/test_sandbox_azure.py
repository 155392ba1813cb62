"""The sandbox Azure speaks ARM's protocol with bodies that azure-ai-ml's own generated
models of them accept."""

from __future__ import annotations

import datetime
import enum
import functools
import time
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import isodate
import pytest
from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.server import SandboxAzureServer

from bot.azure.clients import azure_ai_ml
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import FEATURES, ROWS, AzureWorld, make_manifest
from tests.support.http import LOCAL

API = {"api-version": "2023-04-01-preview"}


def _arm(azure: AzureWorld) -> httpx.Client:
    return httpx.Client(
        base_url=azure.base_url + azure.config.workspace_path,
        headers={"Authorization": f"Bearer {azure.config.arm_token}"},
        params=API,
    )


@functools.cache
def arm_models() -> types.ModuleType:
    """azure-ai-ml's generated models of ARM's Machine Learning bodies: the ones its
    MLClient reads endpoints and deployments with."""
    azure_ai_ml()  # imports azure.ai.ml with its import-time deprecation warnings silenced
    from azure.ai.ml._restclient.arm_ml_service import models

    return models


def _is_model(annotation: Any) -> bool:
    from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model

    return isinstance(annotation, type) and issubclass(annotation, Model)


def _fields(model: type[Any]) -> dict[str, tuple[Any, bool]]:
    """JSON name → (annotated type, required) of a generated model: required fields are the
    ones whose annotation does not allow None."""
    model({})  # a generated model fills in its field table when first built
    hints = typing.get_type_hints(model, localns={"_models": arm_models()})
    return {
        rest_field._rest_name: (hints[attr], type(None) not in typing.get_args(hints[attr]))
        for attr, rest_field in model._attr_to_rest_field.items()
    }


def _concrete(model: type[Any], document: dict[str, Any]) -> type[Any] | str:
    """The subclass a polymorphic model's discriminator names, or why there is none."""
    mapping: dict[str, type[Any]] | None = getattr(model, "__mapping__", None)
    discriminator = model._get_discriminator([]) if mapping else None
    if mapping is None or discriminator is None:
        return model
    value = document.get(discriminator._rest_name)
    if value not in mapping:
        return f"{discriminator._rest_name} {value!r} is none of {sorted(mapping)}"
    return mapping[value]


def model_problems(model: type[Any], document: Any, where: str) -> list[str]:
    """How a JSON body departs from azure-ai-ml's generated model of it: a missing required
    field, a field the model does not have, a value of the wrong JSON type or format."""
    if not isinstance(document, dict):
        return [f"{where}: expected an object for {model.__name__}, got {document!r}"]
    concrete = _concrete(model, document)
    if isinstance(concrete, str):
        return [f"{where}: {concrete}"]
    fields = _fields(concrete)
    problems = [
        f"{where}.{name}: missing, required by {concrete.__name__}"
        for name, (_, required) in fields.items()
        if required and name not in document
    ]
    for name, value in document.items():
        if name not in fields:
            problems.append(f"{where}.{name}: not a field of {concrete.__name__}")
        else:
            problems += _value_problems(fields[name][0], value, f"{where}.{name}")
    return problems


def _value_problems(annotation: Any, value: Any, where: str) -> list[str]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return []
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        tries = [_value_problems(arm, value, where) for arm in args if arm is not type(None)]
        return [] if any(not found for found in tries) else min(tries, key=len)
    if origin is typing.Literal:
        allowed = [getattr(arg, "value", arg) for arg in args]
        return [] if value in allowed else [f"{where}: {value!r} is not {allowed}"]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        return [p for k, v in value.items() for p in _value_problems(args[1], v, f"{where}.{k}")]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {value!r}"]
        return [
            p for i, v in enumerate(value) for p in _value_problems(args[0], v, f"{where}[{i}]")
        ]
    if _is_model(annotation):
        return model_problems(annotation, value, where)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        known = {member.value.lower() for member in annotation}
        if isinstance(value, str) and value.lower() in known:
            return []
        return [f"{where}: {value!r} is none of {sorted(known)}"]
    return _scalar_problems(annotation, value, where)


def _scalar_problems(annotation: Any, value: Any, where: str) -> list[str]:
    readers: dict[Any, Callable[[Any], bool]] = {
        str: lambda v: isinstance(v, str),
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        datetime.datetime: lambda v: isinstance(v, str) and _parses(isodate.parse_datetime, v),
        datetime.timedelta: lambda v: isinstance(v, str) and _parses(isodate.parse_duration, v),
    }
    assert annotation in readers, f"{where}: no check for {annotation}"
    return [] if readers[annotation](value) else [f"{where}: {value!r} is not a {annotation}"]


def _parses(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except (ValueError, isodate.ISO8601Error):
        return False
    return True


def _missing(document: dict[str, Any], paths: tuple[str, ...]) -> list[str]:
    """The dotted paths with no value in a JSON document."""
    missing = []
    for path in paths:
        node: Any = document
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            missing.append(path)
    return missing


# What the SDK reads from an endpoint and a deployment (azure/ai/ml/entities/_endpoint and
# _deployment `_from_rest_object`), beyond what the models require.
ENDPOINT_READS = (
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
DEPLOYMENT_READS = (
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


def _served(azure: AzureWorld, endpoint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sandbox's endpoint and its deployment v-1, as ARM answers GETs for them."""
    AzureMLTarget(azure.settings()).apply(make_manifest("1", endpoint), lambda _l: None)
    with _arm(azure) as arm:
        endpoint_body = arm.get(f"/onlineEndpoints/{endpoint}").json()
        deployment_body = arm.get(f"/onlineEndpoints/{endpoint}/deployments/v-1").json()
    return endpoint_body, deployment_body


def test_endpoints_and_deployments_match_the_sdks_models(azure: AzureWorld) -> None:
    """azure-ai-ml's own generated models of ARM's bodies accept what the sandbox answers:
    every required field, no field they lack, every value of the declared type."""
    endpoint, deployment = _served(azure, "ep-shape")

    assert model_problems(arm_models().OnlineEndpoint, endpoint, "endpoint") == []
    assert model_problems(arm_models().OnlineDeployment, deployment, "deployment") == []
    assert _missing(endpoint, ENDPOINT_READS) == []
    assert _missing(deployment, DEPLOYMENT_READS) == []
    assert endpoint["properties"]["traffic"] == {"v-1": 100}
    assert deployment["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize(
    ("target", "path", "value", "problem"),
    [
        ("endpoint", "properties.traffic.v-1", "100", "endpoint.properties.traffic.v-1: '100'"),
        ("endpoint", "properties.authMode", None, "authMode: missing, required"),
        ("deployment", "location", None, "deployment.location: missing, required"),
        ("deployment", "properties.endpointComputeType", "Serverless", "'Serverless' is none"),
        ("deployment", "properties.scaleSettings.scaleType", "Manual", "'Manual' is none"),
        ("deployment", "properties.requestSettings.requestTimeout", "5s", "'5s' is not a"),
        ("deployment", "properties.instanceCount", 1, "instanceCount: not a field"),
        ("deployment", "systemData.lastModifiedAt", "yesterday", "'yesterday' is not a"),
    ],
)
def test_the_model_check_catches_a_wrong_body(
    azure: AzureWorld, target: str, path: str, value: Any, problem: str
) -> None:
    """A wrong type, an unknown discriminator or field, a bad duration or date, a missing
    required field: each is reported, so an empty list above means something."""
    endpoint, deployment = _served(azure, f"ep-wrong-{target}")
    document = endpoint if target == "endpoint" else deployment
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    model = arm_models().OnlineEndpoint if target == "endpoint" else arm_models().OnlineDeployment
    problems = model_problems(model, document, target)
    assert any(problem in p for p in problems), problems


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
    workspace = LOCAL.get(azure.base_url + azure.config.workspace_path, params=API)
    devops = httpx.options(f"{azure.base_url}/{azure.config.devops_organization}/_apis")
    score = LOCAL.post(
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
    assert LOCAL.get(f"{azure.base_url}/_sandbox/faults").json()[0]["remaining"] == 2

    with _arm(azure) as arm:
        codes = [arm.get("/onlineEndpoints").status_code for _ in range(3)]

    assert codes == [503, 503, 200]
    assert LOCAL.get(f"{azure.base_url}/_sandbox/faults").json() == []


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
