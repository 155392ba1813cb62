"""A canary health probe whose connection times out: azure-core raises
`ServiceResponseTimeoutError` (a `ServiceResponseError`), which promobot retries a bounded
number of times before the step counts as failed and the previous split comes back.

The sandbox's `hang` fault holds the scoring call at the front end; the client gives up
when its read timeout passes. promobot leaves azure-core's read timeout at its default
(300 s), so these tests give the target an `MLClient` built as promobot builds it plus
azure-core's `read_timeout`, to time out in a second instead of five minutes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from azure.core.exceptions import ServiceResponseError, ServiceResponseTimeoutError

from bot.azure.clients import azure_ai_ml, build_credential, ml_client_kwargs
from bot.azure.settings import AzureSettings
from bot.errors import TargetError
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import AzureWorld, make_manifest
from tests.azure.test_azureml_rollout import CANARY, _traffic

READ_TIMEOUT = 1.0
"""The client's read timeout (azure-core `read_timeout`), in seconds."""
HANG = 3.0
"""How long the sandbox's front end holds a hung scoring call: longer than READ_TIMEOUT."""


def _target(azure: AzureWorld, sleep: Any, **settings: Any) -> AzureMLTarget:
    """The Azure ML target over an `MLClient` whose requests time out after READ_TIMEOUT."""
    values: dict[str, Any] = {
        "probe_retry_seconds": 0,
        "settle_poll_seconds": 0.01,
        "max_retries": 0,
        "health_probes": 1,
    }
    values.update(settings)
    config: AzureSettings = azure.settings(**values)
    credential = build_credential(config)
    ml = azure_ai_ml().MLClient(
        credential,
        subscription_id=config.subscription_id,
        resource_group_name=config.resource_group,
        workspace_name=config.workspace,
        read_timeout=READ_TIMEOUT,
        **ml_client_kwargs(config, credential),
    )
    return AzureMLTarget(config, ml_client=ml, credential=credential, sleep=sleep)


def test_the_sdk_raises_a_service_response_error_for_a_hung_scoring_call(
    azure: AzureWorld,
) -> None:
    """What the rollout tests rely on: through azure-ai-ml's own `invoke`, the hung front
    end is azure-core's `ServiceResponseTimeoutError`, after the read timeout and not the
    sandbox's hang, and the fault is off once it has fired."""
    target = _target(azure, sleep=lambda _s: None)
    target.apply(make_manifest("1", "ep-hang-sdk"), lambda _l: None)
    ml = target._ml  # the SDK client under test, as the target uses it
    azure.fault(kind="hang", endpoint="ep-hang-sdk", seconds=HANG)
    request = azure.requests_dir / "churn.json"

    started = time.monotonic()
    with pytest.raises(ServiceResponseTimeoutError) as error:
        ml.online_endpoints.invoke(
            endpoint_name="ep-hang-sdk", request_file=str(request), deployment_name="v-1"
        )
    waited = time.monotonic() - started

    assert isinstance(error.value, ServiceResponseError)
    assert READ_TIMEOUT <= waited < HANG
    answer = ml.online_endpoints.invoke(
        endpoint_name="ep-hang-sdk", request_file=str(request), deployment_name="v-1"
    )
    assert json.loads(answer) == [1.0, 1.0]


def test_a_probe_that_times_out_once_is_retried_and_the_canary_completes(
    azure: AzureWorld,
) -> None:
    """The first health probe at 10% hangs past the read timeout: promobot says it failed
    on the way, tries again, and the canary goes on to 100%."""
    lines: list[str] = []
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        if not pauses:  # the first canary pause, just before the first health check
            azure.fault(kind="hang", endpoint="ep-hang-once", seconds=HANG, count=1)
        pauses.append(seconds)

    target = _target(azure, sleep=pause)
    target.apply(make_manifest("1", "ep-hang-once"), lambda _l: None)

    outcome = target.apply(make_manifest("2", "ep-hang-once", **CANARY), lines.append)

    assert outcome.state.traffic == {"2": 100}
    assert _traffic(azure, "ep-hang-once") == {"v-2": 100}
    retried = [ln for ln in lines if "scoring v-2 failed on the way" in ln]
    assert len(retried) == 1
    assert "Read timed out" in retried[0]
    assert retried[0].endswith("retry 1 of 2")
    # 10% and 50% pauses, and the one pause before the retry.
    assert len(pauses) == 3


def test_a_probe_that_keeps_timing_out_puts_the_split_back_and_says_what_serves(
    azure: AzureWorld,
) -> None:
    """Every probe at 10% hangs: after `probe_retries` retries the health check fails, v-1
    gets all the traffic back, and the error says the probe timed out and what serves."""
    lines: list[str] = []

    pauses: list[float] = []

    def pause(seconds: float) -> None:
        if not pauses:  # the first canary pause: every scoring call from now on hangs
            azure.fault(kind="hang", endpoint="ep-hang-always", seconds=HANG, count=10)
        pauses.append(seconds)

    target = _target(azure, sleep=pause, probe_retries=1)
    target.apply(make_manifest("1", "ep-hang-always"), lambda _l: None)

    with pytest.raises(TargetError, match="stopped at 10%: a health probe failed") as error:
        target.apply(make_manifest("2", "ep-hang-always", **CANARY), lines.append)

    assert "Read timed out" in str(error.value)
    assert "traffic is back on v-1 100%" in str(error.value)
    unhealthy = error.value.__cause__  # the failed health check, caused by the SDK's error
    assert unhealthy is not None
    assert isinstance(unhealthy.__cause__, ServiceResponseError)
    assert _traffic(azure, "ep-hang-always") == {"v-1": 100}
    assert len([ln for ln in lines if "failed on the way" in ln]) == 1
    assert len(pauses) == 2  # the 10% pause and the one retry; 50% was never reached
    assert [ln for ln in lines if ln.startswith("traffic of ep-hang-always")] == [
        "traffic of ep-hang-always: v-2 10%, v-1 90%"
    ]
