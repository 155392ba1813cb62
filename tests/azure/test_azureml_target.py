"""The Azure ML target drives azure-ai-ml against the sandbox over HTTP.

Each test uses an endpoint of its own in the session's sandbox; model version N
predicts N, so a scoring call shows which version answered.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from bot.azure.clients import build_ml_client
from bot.errors import TargetError
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import AzureWorld, make_manifest


def _target(azure: AzureWorld, sleep: Any = None, **settings: Any) -> AzureMLTarget:
    return AzureMLTarget(azure.settings(**settings), sleep=sleep or (lambda _s: None))


def _traffic(azure: AzureWorld, endpoint: str) -> dict[str, int]:
    ml = build_ml_client(azure.settings())
    return {k: v for k, v in ml.online_endpoints.get(endpoint).traffic.items() if v > 0}


def _deployments(azure: AzureWorld, endpoint: str) -> dict[str, str]:
    ml = build_ml_client(azure.settings())
    return {
        d.name: str(d.provisioning_state).rsplit(".", 1)[-1].lower()
        for d in ml.online_deployments.list(endpoint_name=endpoint)
    }


def test_first_deployment_creates_the_endpoint_and_serves_the_version(azure: AzureWorld) -> None:
    """No endpoint yet: one is created, with a deployment named after the version, at 100%."""
    lines: list[str] = []
    outcome = _target(azure).apply(make_manifest("1", "ep-first"), lines.append)

    assert outcome.changed
    assert outcome.state.traffic == {"1": 100}
    assert _traffic(azure, "ep-first") == {"v-1": 100}
    assert [(d, p) for d, p in azure.score("ep-first")] == [("v-1", [1.0, 1.0])]
    assert azure.requests(r"PUT .*/onlineEndpoints/ep-first$")[0]["status"] == 201
    assert azure.requests(r"PUT .*/onlineEndpoints/ep-first/deployments/v-1$")[0]["status"] == 201
    assert any("smoke-testing" in line for line in lines)


def test_applying_the_serving_version_again_changes_nothing(azure: AzureWorld) -> None:
    """Apply is idempotent: a second run makes no write to Azure."""
    target = _target(azure)
    target.apply(make_manifest("1", "ep-idem"), lambda _l: None)
    writes_before = len(azure.requests(r"^(PUT|DELETE|POST) .*/ep-idem"))

    outcome = target.apply(make_manifest("1", "ep-idem"), lambda _l: None)

    assert not outcome.changed
    assert outcome.state.traffic == {"1": 100}
    assert len(azure.requests(r"^(PUT|DELETE|POST) .*/ep-idem")) == writes_before


def test_blue_green_switches_all_traffic_and_deletes_the_old_deployment(azure: AzureWorld) -> None:
    """The new version gets 100% in one traffic update; the old deployment goes away."""
    target = _target(azure, retire_grace_seconds=0)
    target.apply(make_manifest("1", "ep-bluegreen"), lambda _l: None)
    traffic_updates = len(azure.requests(r"PUT .*/onlineEndpoints/ep-bluegreen$"))

    outcome = target.apply(make_manifest("2", "ep-bluegreen"), lambda _l: None)

    assert outcome.changed
    assert outcome.state.traffic == {"2": 100}
    # The switch, then the endpoint drops the retirement tag of the deleted v-1.
    assert len(azure.requests(r"PUT .*/onlineEndpoints/ep-bluegreen$")) == traffic_updates + 2
    assert _deployments(azure, "ep-bluegreen") == {"v-2": "succeeded"}
    assert {d for d, _ in azure.score("ep-bluegreen", times=5)} == {"v-2"}


def test_canary_moves_traffic_in_three_steps_with_checks_between(azure: AzureWorld) -> None:
    """10% then 50% then 100%: at each pause both versions serve in the configured split."""
    seen: list[dict[str, int]] = []
    answered_at_half: set[str] = set()

    def pause(_seconds: float) -> None:
        seen.append(_traffic(azure, "ep-canary"))
        if len(seen) == 2:
            answered_at_half.update(d for d, _ in azure.score("ep-canary", times=20))

    target = _target(azure, sleep=pause)
    target.apply(make_manifest("1", "ep-canary"), lambda _l: None)
    manifest = make_manifest("2", "ep-canary", strategy="canary", canary_steps=[10, 50, 100])

    outcome = target.apply(manifest, lambda _l: None)

    assert seen == [{"v-2": 10, "v-1": 90}, {"v-2": 50, "v-1": 50}]
    assert answered_at_half == {"v-1", "v-2"}
    assert outcome.state.traffic == {"2": 100}


def test_a_canary_that_fails_its_health_check_returns_traffic_to_the_old_version(
    azure: AzureWorld,
) -> None:
    """A failing step puts all traffic back on what served before and fails the apply."""

    def pause(_seconds: float) -> None:
        azure.fault(kind="scoring", deployment="v-2", status=424, count=10)

    target = _target(azure, sleep=pause)
    target.apply(make_manifest("1", "ep-canary-bad"), lambda _l: None)
    manifest = make_manifest("2", "ep-canary-bad", strategy="canary", canary_steps=[10, 50, 100])

    with pytest.raises(TargetError, match="stopped at 10%: a health probe failed") as error:
        target.apply(manifest, lambda _l: None)

    assert "traffic is back on v-1 100%" in str(error.value)
    assert _traffic(azure, "ep-canary-bad") == {"v-1": 100}


def test_rollback_moves_traffic_back_to_a_deployment_still_in_its_grace_period(
    azure: AzureWorld,
) -> None:
    """Applying the older manifest again is the rollback: no new deployment, just traffic."""
    target = _target(azure, retire_grace_seconds=3600)
    target.apply(make_manifest("1", "ep-rollback"), lambda _l: None)
    target.apply(make_manifest("2", "ep-rollback"), lambda _l: None)
    assert _deployments(azure, "ep-rollback") == {"v-1": "succeeded", "v-2": "succeeded"}
    puts_of_v1 = len(azure.requests(r"PUT .*/ep-rollback/deployments/v-1$"))

    outcome = target.apply(make_manifest("1", "ep-rollback"), lambda _l: None)

    assert outcome.state.traffic == {"1": 100}
    assert len(azure.requests(r"PUT .*/ep-rollback/deployments/v-1$")) == puts_of_v1
    assert {d for d, _ in azure.score("ep-rollback", times=3)} == {"v-1"}


def test_rollback_recreates_a_deployment_that_was_deleted(azure: AzureWorld) -> None:
    """Without a grace period the old deployment is gone, so the rollback provisions it again."""
    target = _target(azure, retire_grace_seconds=0)
    target.apply(make_manifest("1", "ep-recreate"), lambda _l: None)
    target.apply(make_manifest("2", "ep-recreate"), lambda _l: None)
    assert _deployments(azure, "ep-recreate") == {"v-2": "succeeded"}

    outcome = target.apply(make_manifest("1", "ep-recreate"), lambda _l: None)

    assert outcome.state.traffic == {"1": 100}
    assert len(azure.requests(r"PUT .*/ep-recreate/deployments/v-1$")) == 2
    assert _deployments(azure, "ep-recreate") == {"v-1": "succeeded"}


def test_a_retired_deployment_is_deleted_once_its_grace_period_is_over(azure: AzureWorld) -> None:
    """A later apply deletes deployments whose grace period has passed, even if nothing changes."""
    _target(azure, retire_grace_seconds=3600).apply(make_manifest("1", "ep-sweep"), lambda _l: None)
    _target(azure, retire_grace_seconds=3600).apply(make_manifest("2", "ep-sweep"), lambda _l: None)
    assert set(_deployments(azure, "ep-sweep")) == {"v-1", "v-2"}

    outcome = _target(azure, retire_grace_seconds=0).apply(
        make_manifest("2", "ep-sweep"), lambda _l: None
    )

    assert not outcome.changed
    assert set(_deployments(azure, "ep-sweep")) == {"v-2"}


def test_failed_provisioning_never_gets_traffic_and_reports_azures_message(
    azure: AzureWorld,
) -> None:
    """The serving deployment keeps 100%; the error is the one Azure gave for the operation."""
    target = _target(azure)
    target.apply(make_manifest("1", "ep-failed"), lambda _l: None)
    azure.fault(kind="provisioning", deployment="v-2", message="Out of quota for Standard_DS3_v2.")

    with pytest.raises(TargetError, match=r"v-2 .*failed to provision: .*Out of quota") as error:
        target.apply(make_manifest("2", "ep-failed"), lambda _l: None)

    assert "keeps serving" in str(error.value)
    assert _traffic(azure, "ep-failed") == {"v-1": 100}
    assert _deployments(azure, "ep-failed")["v-2"] == "failed"
    assert {d for d, _ in azure.score("ep-failed", times=3)} == {"v-1"}


def test_a_failed_deployment_is_cleaned_up_by_the_next_successful_apply(
    azure: AzureWorld,
) -> None:
    """It stays for its logs until a later version serves; then it is deleted."""
    target = _target(azure)
    target.apply(make_manifest("1", "ep-cleanup"), lambda _l: None)
    azure.fault(kind="provisioning", deployment="v-2")
    with pytest.raises(TargetError):
        target.apply(make_manifest("2", "ep-cleanup"), lambda _l: None)

    target.apply(make_manifest("3", "ep-cleanup"), lambda _l: None)

    assert _deployments(azure, "ep-cleanup") == {"v-3": "succeeded"}


def test_a_model_whose_artifacts_cannot_be_loaded_fails_provisioning(azure: AzureWorld) -> None:
    """No injected fault: version 9's artifacts do not exist, so its container cannot start."""
    target = _target(azure)
    target.apply(make_manifest("1", "ep-broken"), lambda _l: None)

    with pytest.raises(TargetError, match="could not be loaded"):
        target.apply(make_manifest("9", "ep-broken"), lambda _l: None)

    assert target.state(
        "churn", "production", make_manifest("1", "ep-broken").deployment
    ).traffic == {"1": 100}


def test_throttled_calls_are_retried_after_the_time_azure_asks_for(azure: AzureWorld) -> None:
    """429 with Retry-After: 1, twice: the SDK waits and retries, and the apply succeeds."""
    azure.fault(
        kind="http",
        method="PUT",
        path=r"/ep-throttle/deployments/",
        status=429,
        retry_after=1,
        count=2,
    )

    outcome = _target(azure).apply(make_manifest("1", "ep-throttle"), lambda _l: None)

    assert outcome.state.traffic == {"1": 100}
    puts = azure.requests(r"PUT .*/ep-throttle/deployments/v-1$")
    assert [p["status"] for p in puts] == [429, 429, 201]
    gaps = [later["time"] - earlier["time"] for earlier, later in itertools.pairwise(puts)]
    assert all(gap >= 0.9 for gap in gaps)


def test_server_errors_with_retry_after_are_retried(azure: AzureWorld) -> None:
    """A 503 on a read is retried like a 429."""
    azure.fault(
        kind="http", method="GET", path=r"/onlineEndpoints/ep-503$", status=503, retry_after=0.05
    )

    outcome = _target(azure).apply(make_manifest("1", "ep-503"), lambda _l: None)

    assert outcome.state.traffic == {"1": 100}
    assert [r["status"] for r in azure.requests(r"GET .*/onlineEndpoints/ep-503$")][:2] == [
        503,
        404,
    ]


def test_retries_are_bounded_and_the_error_is_azures(azure: AzureWorld) -> None:
    """Throttled past the retry budget: apply fails with Azure's code and message."""
    azure.fault(
        kind="http",
        method="GET",
        path=r"/onlineEndpoints/ep-bounded$",
        status=429,
        retry_after=0.01,
        count=20,
        message="Rate limit exceeded.",
    )

    started = time.monotonic()
    with pytest.raises(TargetError, match="TooManyRequests: Rate limit exceeded"):
        _target(azure, max_retries=2).apply(make_manifest("1", "ep-bounded"), lambda _l: None)

    assert len(azure.requests(r"GET .*/onlineEndpoints/ep-bounded$")) == 3
    assert time.monotonic() - started < 10


def test_a_wrong_token_is_an_azure_authentication_error(azure: AzureWorld) -> None:
    """Credentials are checked by the service; the message names the failure."""
    target = _target(azure, token="not-the-token")

    with pytest.raises(TargetError, match="AuthenticationFailed"):
        target.apply(make_manifest("1", "ep-auth"), lambda _l: None)


def test_a_manifest_for_another_target_is_refused(azure: AzureWorld) -> None:
    """The target only applies manifests that say `target: azureml`."""
    manifest = make_manifest("1", "ep-other", target="local")

    with pytest.raises(TargetError, match="not azureml"):
        _target(azure).apply(manifest, lambda _l: None)


def test_state_of_an_endpoint_that_does_not_exist_is_empty(azure: AzureWorld) -> None:
    """Nothing serves before the first deployment."""
    state = _target(azure).state("churn", "production", make_manifest("1", "ep-none").deployment)

    assert state.traffic == {}
    assert state.serving_version is None
