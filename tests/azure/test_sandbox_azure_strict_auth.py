"""Who may do what: role assignments per identity, refusals per operation, and static tokens
that expire; driven by the unmodified azure-ai-ml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from promobot_sandbox.azure.timing import OperationDurations

from tests.azure.conftest import STRICT_MODEL, StrictAzure, ml_entities, own_strict_sandbox

ENDPOINT_WRITE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write"


def _endpoint(name: str) -> Any:
    return ml_entities().ManagedOnlineEndpoint(name=name, auth_mode="key")


def _deployment(endpoint: str, name: str) -> Any:
    return ml_entities().ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        model=f"azureml:{STRICT_MODEL}:1",
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )


def test_a_reader_reads_but_cannot_write(strict: StrictAzure) -> None:
    """403 AuthorizationFailed names the client, the action and the scope, in ARM's words."""
    strict.seed(identities=[{"token": "reader-token", "name": "ci-reader", "roles": ["Reader"]}])
    strict.ml().online_endpoints.begin_create_or_update(_endpoint("ep-reader")).result()
    reader = strict.ml("reader-token")

    seen = reader.online_endpoints.get("ep-reader")
    with pytest.raises(HttpResponseError) as refused:
        reader.online_endpoints.begin_create_or_update(_endpoint("ep-reader"))

    assert seen.name == "ep-reader"
    assert refused.value.status_code == 403
    assert refused.value.error is not None
    assert refused.value.error.code == "AuthorizationFailed"
    assert (
        "The client 'ci-reader' with object id '" in str(refused.value)
        and f"does not have authorization to perform action '{ENDPOINT_WRITE}' over scope "
        f"'{strict.config.workspace_path}/onlineEndpoints/ep-reader'"
        in str(refused.value)
    )


def test_a_custom_role_without_list_keys_cannot_read_the_endpoint_keys(
    strict: StrictAzure,
) -> None:
    """Actions and NotActions of a custom role decide, action by action."""
    role = {
        "token": "operator-token",
        "roles": [],
        "actions": [
            "Microsoft.MachineLearningServices/workspaces/*",
            "Microsoft.MachineLearningServices/locations/*/read",  # polling operations
        ],
        "not_actions": ["*/onlineEndpoints/listKeys/action"],
    }
    strict.seed(identities=[role])
    operator = strict.ml("operator-token")
    operator.online_endpoints.begin_create_or_update(_endpoint("ep-operator")).result()

    with pytest.raises(HttpResponseError) as refused:
        operator.online_endpoints.get_keys("ep-operator")

    assert refused.value.status_code == 403
    assert "onlineEndpoints/listKeys/action" in str(refused.value)


def test_a_deny_assignment_wins_over_the_role(strict: StrictAzure) -> None:
    """A Contributor denied deployment writes creates endpoints but no deployments."""
    denied = {
        "token": "denied-token",
        "deny_actions": ["*/onlineEndpoints/deployments/write"],
    }
    strict.seed(identities=[denied])
    ml = strict.ml("denied-token")
    ml.online_endpoints.begin_create_or_update(_endpoint("ep-denied")).result()

    with pytest.raises(HttpResponseError) as refused:
        ml.online_deployments.begin_create_or_update(_deployment("ep-denied", "v-1"))

    assert refused.value.status_code == 403


def test_a_refusal_can_be_injected_for_one_operation(strict: StrictAzure) -> None:
    """An `authorization` fault refuses the matching calls, then lets them through."""
    ml = strict.ml()
    ml.online_endpoints.begin_create_or_update(_endpoint("ep-fault403")).result()
    strict.fault(kind="authorization", method="PUT", path=r"/ep-fault403/deployments/", count=1)

    with pytest.raises(HttpResponseError) as refused:
        ml.online_deployments.begin_create_or_update(_deployment("ep-fault403", "v-1"))
    created = ml.online_deployments.begin_create_or_update(
        _deployment("ep-fault403", "v-1")
    ).result()

    assert refused.value.status_code == 403
    assert "onlineEndpoints/deployments/write" in str(refused.value)
    assert created.provisioning_state == "Succeeded"


def test_a_static_token_expires_in_the_middle_of_a_long_rollout(
    strict: StrictAzure, tmp_path: Path
) -> None:
    """A one-hour token outlives a few ten-minute deployments, not all of them: the next
    call gets 401 ExpiredAuthenticationToken, and the SDK cannot refresh a static token."""
    pipeline_login = {"token": "pipeline-token", "name": "pipeline", "lifetime_seconds": 3600}
    with own_strict_sandbox(
        strict,
        tmp_path,
        clock_factor=600,
        durations=OperationDurations.realistic(),
        seed={"quota": {"family_limits": {"standardDSv2Family": 1000}}},
    ) as world:
        world.seed(identities=[pipeline_login])  # signed in now, for one hour
        ml = world.ml("pipeline-token")
        ml.online_endpoints.begin_create_or_update(_endpoint("ep-rollout")).result()
        deployed, expired = _roll_out(ml, "ep-rollout")

    assert expired.status_code == 401
    assert expired.error is not None
    assert expired.error.code == "ExpiredAuthenticationToken"
    assert "is earlier than current UTC time" in str(expired)
    assert 1 <= deployed < 6  # ten minutes each, and the hour ran out


def _roll_out(ml: Any, endpoint: str) -> tuple[int, HttpResponseError]:
    """Deploy one version after another until Azure refuses: (deployed, the refusal)."""
    for step in range(1, 20):
        try:
            ml.online_deployments.begin_create_or_update(
                _deployment(endpoint, f"v-{step}")
            ).result()
        except HttpResponseError as refusal:
            return step - 1, refusal
    raise AssertionError("every deployment went through")
