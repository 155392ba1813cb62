"""The sandbox Azure's operations take Azure's time, refuse writes while they run, and
check names and tags as Azure does; driven by the unmodified azure-ai-ml."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from promobot_sandbox.azure.timing import OperationDurations

from tests.azure.conftest import STRICT_MODEL, StrictAzure, ml_entities, own_strict_sandbox


def _endpoint(name: str, **fields: Any) -> Any:
    return ml_entities().ManagedOnlineEndpoint(name=name, auth_mode="key", **fields)


def _deployment(endpoint: str, name: str, version: str, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "name": name,
        "endpoint_name": endpoint,
        "model": f"azureml:{STRICT_MODEL}:{version}",
        "instance_type": "Standard_DS3_v2",
        "instance_count": 1,
    }
    values.update(fields)
    return ml_entities().ManagedOnlineDeployment(**values)


def test_a_deployment_takes_azures_minutes_on_a_fast_clock(
    strict: StrictAzure, tmp_path: Path
) -> None:
    """Realistic durations (8-14 minutes for a deployment) pass on the sandbox's clock in a
    fraction of the wall-clock time, with no sleep in the test."""
    with own_strict_sandbox(
        strict, tmp_path, durations=OperationDurations.realistic(), clock_factor=600
    ) as world:
        ml = world.ml()
        started_wall, started = time.monotonic(), world.clock()
        ml.online_endpoints.begin_create_or_update(_endpoint("ep-minutes")).result()
        poller = ml.online_deployments.begin_create_or_update(_deployment("ep-minutes", "v-1", "1"))
        in_progress = ml.online_deployments.get("v-1", endpoint_name="ep-minutes")
        poller.result()
        elapsed, wall = world.clock() - started, time.monotonic() - started_wall

    assert in_progress.provisioning_state == "Creating"
    assert elapsed >= 120 + 600  # the endpoint's two minutes and the deployment's ten
    assert wall < elapsed / 60


def test_writes_on_a_deployment_still_provisioning_get_409(
    strict: StrictAzure, tmp_path: Path
) -> None:
    """PUT, PATCH and DELETE of a deployment whose creation runs are refused with ARM's 409."""
    durations = OperationDurations(endpoint_create=0, deployment_create=3600)
    with own_strict_sandbox(strict, tmp_path, durations=durations) as world:
        ml = world.ml()
        ml.online_endpoints.begin_create_or_update(_endpoint("ep-busy")).result()
        ml.online_deployments.begin_create_or_update(_deployment("ep-busy", "v-1", "1"))

        with pytest.raises(HttpResponseError) as again:
            ml.online_deployments.begin_create_or_update(_deployment("ep-busy", "v-1", "1"))
        with world.arm() as arm:
            patched = arm.patch("/onlineEndpoints/ep-busy/deployments/v-1", json={"tags": {}})
            deleted = arm.delete("/onlineEndpoints/ep-busy/deployments/v-1")

    assert again.value.status_code == 409
    assert "provisioning state is not terminal" in str(again.value)
    assert (patched.status_code, deleted.status_code) == (409, 409)
    assert patched.json()["error"]["code"] == "Conflict"


def test_deployments_of_an_endpoint_being_updated_get_409(
    strict: StrictAzure, tmp_path: Path
) -> None:
    """While a traffic update runs, the endpoint and its deployments take no other write."""
    durations = OperationDurations(endpoint_create=0, deployment_create=0, endpoint_update=3600)
    with own_strict_sandbox(strict, tmp_path, durations=durations) as world:
        ml = world.ml()
        endpoint = ml.online_endpoints.begin_create_or_update(_endpoint("ep-updating")).result()
        ml.online_deployments.begin_create_or_update(
            _deployment("ep-updating", "v-1", "1")
        ).result()
        endpoint.traffic = {"v-1": 100}
        ml.online_endpoints.begin_create_or_update(endpoint)

        with pytest.raises(HttpResponseError) as deployment:
            ml.online_deployments.begin_create_or_update(_deployment("ep-updating", "v-2", "1"))
        with pytest.raises(HttpResponseError) as update:
            ml.online_endpoints.begin_create_or_update(endpoint)

    assert deployment.value.status_code == 409
    assert "Cannot create a deployment in endpoint ep-updating because it is in Updating" in str(
        deployment.value
    )
    assert update.value.status_code == 409


def test_an_endpoint_name_taken_in_the_region_is_refused(strict: StrictAzure) -> None:
    """Endpoint names are unique across all customers in a region: a seeded name is taken."""
    strict.seed(taken_endpoint_names=["Churn-Prod"])

    with pytest.raises(HttpResponseError) as refused:
        strict.ml().online_endpoints.begin_create_or_update(_endpoint("churn-prod"))

    assert refused.value.status_code == 400
    assert "Endpoint name needs to be unique within a region" in str(refused.value)
    with strict.arm() as arm:
        assert arm.get("/onlineEndpoints/churn-prod").status_code == 404


def test_a_double_dash_the_sdk_lets_through_is_refused(strict: StrictAzure) -> None:
    """azure-ai-ml checks names itself but accepts `--`; Azure takes only single dashes."""
    with pytest.raises(HttpResponseError) as refused:
        strict.ml().online_endpoints.begin_create_or_update(_endpoint("churn--prod"))

    assert refused.value.status_code == 400
    assert "single '-'" in str(refused.value)


@pytest.mark.parametrize(
    "name",
    ["1churn", "churn_prod", "ab", "churn-", "c" * 33, "churn.prod"],
)
def test_names_azure_refuses_are_refused_over_rest(strict: StrictAzure, name: str) -> None:
    """What other clients may send: start with a letter, 3-32 letters, digits, single dashes."""
    with strict.arm() as arm:
        answer = arm.put(f"/onlineEndpoints/{name}", json={"location": "westeurope"})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadArgument"


def test_more_than_50_tags_are_refused_on_put_and_patch(strict: StrictAzure) -> None:
    """ARM allows 50 tags per resource: the 51st fails the write, whatever the client."""
    ml = strict.ml()
    ml.online_endpoints.begin_create_or_update(
        _endpoint("ep-tags", tags={f"t{i}": "x" for i in range(50)})
    ).result()

    with pytest.raises(HttpResponseError) as put:
        ml.online_endpoints.begin_create_or_update(
            _endpoint("ep-tags", tags={f"t{i}": "x" for i in range(51)})
        )
    with strict.arm() as arm:
        patch = arm.patch(
            "/onlineEndpoints/ep-tags", json={"tags": {str(i): "x" for i in range(51)}}
        )

    assert put.value.status_code == 400
    assert "at most 50 tag" in str(put.value)
    assert patch.status_code == 400
    assert len(ml.online_endpoints.get("ep-tags").tags) == 50


def test_a_patch_follows_the_long_running_operation_protocol(strict: StrictAzure) -> None:
    """PATCH answers 202 with a Location polled to 200; the endpoint keeps its traffic."""
    strict.ml().online_endpoints.begin_create_or_update(_endpoint("ep-patch")).result()

    with strict.arm() as arm:
        patched = arm.patch("/onlineEndpoints/ep-patch", json={"tags": {"team": "churn"}})
        deadline = time.monotonic() + 20
        result = arm.get(patched.headers["Location"])
        while result.status_code == 202 and time.monotonic() < deadline:
            result = arm.get(patched.headers["Location"])
        endpoint = arm.get("/onlineEndpoints/ep-patch").json()

    assert (patched.status_code, result.status_code) == (202, 200)
    assert endpoint["tags"] == {"team": "churn"}
    assert endpoint["properties"]["provisioningState"] == "Succeeded"
