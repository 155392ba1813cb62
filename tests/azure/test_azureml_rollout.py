"""What goes wrong during a rollout on Azure ML: the previous split comes back before the
error is raised, probes ride out a front end's hiccups, a deployment still provisioning
is waited for, and retirement tags leave with their deployments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from promobot_sandbox.azure.timing import OperationDurations

from bot.azure.clients import build_ml_client
from bot.domain.azure_traffic import RETIRED_TAG
from bot.errors import TargetError
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import AzureWorld, make_manifest, ml_entities, own_sandbox

CANARY = {"strategy": "canary", "canary_steps": [10, 50, 100]}


def _target(azure: AzureWorld, sleep: Any = None, **settings: Any) -> AzureMLTarget:
    values: dict[str, Any] = {"probe_retry_seconds": 0, "settle_poll_seconds": 0.01}
    values.update(settings)
    return AzureMLTarget(azure.settings(**values), sleep=sleep or (lambda _s: None))


def _traffic(azure: AzureWorld, endpoint: str) -> dict[str, int]:
    ml = build_ml_client(azure.settings())
    return {k: v for k, v in ml.online_endpoints.get(endpoint).traffic.items() if v > 0}


def _tags(azure: AzureWorld, endpoint: str) -> dict[str, str]:
    return dict(build_ml_client(azure.settings()).online_endpoints.get(endpoint).tags or {})


def test_a_plain_text_502_through_a_canary_step_puts_the_split_back_and_says_what_serves(
    azure: AzureWorld,
) -> None:
    """The front end's 502 is `MlException`, not `HttpResponseError`: it still fails the
    health check, and v-1 gets all the traffic back before the error is raised."""

    def pause(_seconds: float) -> None:
        azure.fault(kind="frontend", endpoint="ep-canary-502", status=502, count=50)

    target = _target(azure, sleep=pause)
    target.apply(make_manifest("1", "ep-canary-502"), lambda _l: None)

    with pytest.raises(TargetError, match="stopped at 10%: a health probe failed") as error:
        target.apply(make_manifest("2", "ep-canary-502", **CANARY), lambda _l: None)

    assert "upstream connect error" in str(error.value)
    assert "traffic is back on v-1 100%" in str(error.value)
    assert _traffic(azure, "ep-canary-502") == {"v-1": 100}


def test_a_front_end_hiccup_during_a_probe_is_tried_again(azure: AzureWorld) -> None:
    """A plain-text 503 is not the model failing: the probe is repeated and the canary goes
    on to 100%. (azure-ai-ml's own retries are off here, so the 503 reaches promobot.)"""
    lines: list[str] = []
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        if not pauses:  # the first canary pause; later ones include the probe's own retry
            azure.fault(kind="frontend", endpoint="ep-canary-503", status=503, count=1)
        pauses.append(seconds)

    target = _target(azure, sleep=pause, max_retries=0)
    target.apply(make_manifest("1", "ep-canary-503"), lambda _l: None)

    outcome = target.apply(make_manifest("2", "ep-canary-503", **CANARY), lines.append)

    assert outcome.state.traffic == {"2": 100}
    assert any("failed on the way (no healthy upstream): retry 1 of 2" in ln for ln in lines)


def test_a_refused_traffic_step_puts_the_split_back(azure: AzureWorld) -> None:
    """Azure refuses the 50% update (403): the 10% split is undone, not left behind."""
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        azure.fault(
            kind="authorization", method="PUT", path=r"/onlineEndpoints/ep-canary-403$", count=1
        )

    target = _target(azure, sleep=pause)
    target.apply(make_manifest("1", "ep-canary-403"), lambda _l: None)

    with pytest.raises(TargetError, match="stopped at 50%: AuthorizationFailed") as error:
        target.apply(make_manifest("2", "ep-canary-403", **CANARY), lambda _l: None)

    assert "traffic is back on v-1 100%" in str(error.value)
    assert _traffic(azure, "ep-canary-403") == {"v-1": 100}
    assert len(pauses) == 1


def test_a_blue_green_switch_whose_operation_cannot_be_followed_is_undone(
    azure: AzureWorld,
) -> None:
    """The switch to v-2 was accepted, then every poll of its operation fails: promobot
    cannot know it went well, so v-1 gets the traffic back and the error says so."""

    def progress(line: str) -> None:
        if line.startswith("traffic of ep-bg-lost: v-2 100%"):
            azure.fault(
                kind="http", method="GET", path="/mfeOperationsStatus/", status=500, count=4
            )

    target = _target(azure)
    target.apply(make_manifest("1", "ep-bg-lost"), lambda _l: None)

    with pytest.raises(TargetError, match="stopped at 100%: InternalServerError") as error:
        target.apply(make_manifest("2", "ep-bg-lost"), progress)

    assert "traffic is back on v-1 100%" in str(error.value)
    assert _traffic(azure, "ep-bg-lost") == {"v-1": 100}


def test_an_interrupted_canary_puts_the_split_back(azure: AzureWorld) -> None:
    """Ctrl-C (or a job timeout's signal) during a pause: the split is undone, then the
    interruption goes on."""

    def pause(_seconds: float) -> None:
        raise KeyboardInterrupt

    _target(azure).apply(make_manifest("1", "ep-canary-stop"), lambda _l: None)

    with pytest.raises(KeyboardInterrupt):
        _target(azure, sleep=pause).apply(
            make_manifest("2", "ep-canary-stop", **CANARY), lambda _l: None
        )

    assert _traffic(azure, "ep-canary-stop") == {"v-1": 100}


def test_retirement_tags_leave_with_their_deployments(azure: AzureWorld) -> None:
    """Three promotions without a grace period: the old deployments are gone, and so are the
    tags that dated their retirement."""
    target = _target(azure, retire_grace_seconds=0)
    for version in ("1", "2", "3"):
        target.apply(make_manifest(version, "ep-tags-gone"), lambda _l: None)

    tags = _tags(azure, "ep-tags-gone")

    assert [t for t in tags if t.startswith(RETIRED_TAG)] == []
    assert set(tags) == {"promobot.model", "promobot.environment"}


def test_an_endpoint_full_of_leftover_retirement_tags_takes_the_next_promotion(
    azure: AzureWorld,
) -> None:
    """48 tags of deployments long gone plus promobot's two fill ARM's 50: the traffic
    update that retires v-1 drops them instead of asking for a 51st."""
    leftovers = {f"{RETIRED_TAG}v-old-{i}": "2024-01-01T00:00:00+00:00" for i in range(48)}
    mine = {"promobot.model": "churn", "promobot.environment": "production"}
    ml = build_ml_client(azure.settings())
    ml.online_endpoints.begin_create_or_update(
        ml_entities().ManagedOnlineEndpoint(
            name="ep-tags-full", auth_mode="key", tags={**mine, **leftovers}
        )
    ).result()
    target = _target(azure, retire_grace_seconds=3600)
    target.apply(make_manifest("1", "ep-tags-full"), lambda _l: None)

    outcome = target.apply(make_manifest("2", "ep-tags-full"), lambda _l: None)

    assert outcome.state.traffic == {"2": 100}
    assert set(_tags(azure, "ep-tags-full")) == {*mine, f"{RETIRED_TAG}v-1"}


def test_a_deployment_still_provisioning_is_waited_for_then_used(
    azure: AzureWorld, tmp_path: Path
) -> None:
    """A killed apply left v-2 Creating; Azure answers 409 to any write on it. The next apply
    waits for the creation to end and takes it from there, without a second PUT."""
    durations = OperationDurations(deployment_create=600)
    with own_sandbox(azure, tmp_path, durations=durations, clock_factor=600) as world:
        target = _target(world)
        target.apply(make_manifest("1", "ep-busy"), lambda _l: None)
        ml = build_ml_client(world.settings())
        ml.online_deployments.begin_create_or_update(
            ml_entities().ManagedOnlineDeployment(
                name="v-2",
                endpoint_name="ep-busy",
                model="azureml:churn:2",
                instance_type="Standard_DS3_v2",
                instance_count=1,
                tags={"promobot.version": "2", "promobot.model": "churn"},
            )
        )
        lines: list[str] = []

        outcome = target.apply(make_manifest("2", "ep-busy"), lines.append)

        puts = world.requests(r"PUT .*/ep-busy/deployments/v-2$")

    assert outcome.state.traffic == {"2": 100}
    assert [p["status"] for p in puts] == [201]
    assert "deployment v-2 is Creating: waiting for its operation to end" in lines
