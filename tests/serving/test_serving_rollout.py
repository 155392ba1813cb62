"""Blue/green, canary, idempotency and failures: `LocalTarget` driving a real scoring server."""

from __future__ import annotations

import socket

import httpx
import pytest

from bot.errors import TargetError
from bot.serving.api import ModelView
from bot.serving.runner import RunningServer
from bot.targets.local import CanaryCheck, LocalTarget
from tests.serving.support import EDGE_ROW, SAFE_ROWS, Traffic, make_manifest
from tests.support.serving_models import Registry


def view(client: httpx.Client, environment: str = "production") -> ModelView:
    """What the public API says serves `churn`."""
    response = client.get("/v1/models/churn", params={"environment": environment})
    response.raise_for_status()
    return ModelView.model_validate(response.json())


def loaded_versions(client: httpx.Client) -> set[str]:
    """Versions of `churn` in the server's memory, serving or idle."""
    return {v.version for v in view(client).versions}


def test_blue_green_switch_under_load_fails_no_request(
    server: RunningServer, target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """The promise of blue/green: clients never see an error while traffic moves."""
    old, new = registry.version("logistic"), registry.version("boosted")
    target.apply(make_manifest(old), print)
    with Traffic(server.url, threads=4) as traffic:
        traffic.wait_for(100)
        outcome = target.apply(make_manifest(new), print)
        traffic.wait_for(100)
    assert outcome.changed
    assert traffic.failures() == []
    seen = traffic.versions()
    assert seen[old] >= 100
    assert seen[new] >= 100
    assert outcome.state.traffic == {new: 100}
    assert view(client).traffic == {new: 100}


def test_applying_the_serving_version_again_changes_nothing(
    target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """`promobot apply` runs on every push; a second run must be a no-op."""
    manifest = make_manifest(registry.version("logistic"))
    first = target.apply(manifest, print)
    loaded_at = view(client).versions[0].loaded_at
    second = target.apply(manifest, print)
    assert first.changed
    assert not second.changed
    assert second.state == first.state
    assert view(client).versions[0].loaded_at == loaded_at


def test_rollback_is_applying_the_older_manifest(
    target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """A revert commit brings back the old manifest; the old version serves again at once."""
    old, new = registry.version("logistic"), registry.version("boosted")
    target.apply(make_manifest(old), print)
    target.apply(make_manifest(new), print)
    assert loaded_versions(client) == {old, new}
    lines: list[str] = []
    outcome = target.apply(make_manifest(old), lines.append)
    assert outcome.changed
    assert outcome.state.serving_version == old
    assert f"{old} was already loaded" in lines
    served = client.post("/v1/models/churn/predict", json=SAFE_ROWS).json()
    assert served["version"] == old


def test_canary_moves_traffic_in_the_manifest_steps(
    server: RunningServer, target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """Each step gives the new version its share, and it is checked before the next one."""
    old, new = registry.version("logistic"), registry.version("boosted")
    target.apply(make_manifest(old), print)
    observed: list[dict[str, int]] = []

    def progress(line: str) -> None:
        if line.startswith("canary step"):
            observed.append(view(client).traffic)

    canary = make_manifest(new, strategy="canary", step_pause_seconds=0.3)
    with Traffic(server.url, threads=3) as traffic:
        traffic.wait_for(30)
        outcome = target.apply(canary, progress)
    assert observed == [{old: 90, new: 10}, {old: 50, new: 50}, {new: 100}]
    assert outcome.detail.startswith("canary 10%→50%→100%")
    assert traffic.failures() == []
    assert view(client).traffic == {new: 100}


def test_failed_canary_step_returns_all_traffic_to_the_old_version(
    server: RunningServer, target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """A version that fails real requests is caught at its first step and taken out."""
    old, fragile = registry.version("logistic"), registry.version("fragile")
    target.apply(make_manifest(old), print)
    payloads = [{"records": [SAFE_ROWS[0]]}, {"records": [EDGE_ROW]}]
    canary = make_manifest(fragile, strategy="canary", step_pause_seconds=0.2)
    patient = LocalTarget(
        server.url,
        registry.tracking_uri,
        check=CanaryCheck(max_error_rate=0.02, min_requests=10, evidence_wait_seconds=60),
    )
    lines: list[str] = []
    with Traffic(server.url, threads=3, payloads=payloads) as traffic:
        traffic.wait_for(30)
        with pytest.raises(TargetError, match=r"canary of churn \d+ failed at 10%"):
            patient.apply(canary, lines.append)
        traffic.wait_for(30)
    patient.close()
    assert not any(line.startswith("canary step 2") for line in lines)
    assert view(client).traffic == {old: 100}
    assert loaded_versions(client) == {old}
    failures = traffic.failures()
    assert failures, "the fragile version should have failed some requests"
    assert all(f"version {fragile} of churn failed" in (f.error or "") for f in failures)
    assert traffic.versions()[fragile] > 0


def test_version_failing_its_smoke_test_never_takes_traffic(
    target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """A new version that cannot score its own input example is refused before the switch."""
    old, broken = registry.version("logistic"), registry.version("fragile_example")
    target.apply(make_manifest(old), print)
    with pytest.raises(TargetError, match="failed its smoke test"):
        target.apply(make_manifest(broken), print)
    assert view(client).traffic == {old: 100}
    assert loaded_versions(client) == {old}


def test_unknown_version_fails_with_the_registry_message(
    target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """A manifest naming a version the registry lacks fails clearly; what served still serves."""
    old = registry.version("logistic")
    target.apply(make_manifest(old), print)
    with pytest.raises(TargetError, match="models:/churn/999 does not resolve") as caught:
        target.apply(make_manifest("999"), print)
    assert caught.value.hint is not None
    assert view(client).traffic == {old: 100}


def test_model_with_only_a_signature_is_smoke_tested_from_it(
    target: LocalTarget, registry: Registry
) -> None:
    """Models logged without an input example still get a smoke test, from their signature."""
    lines: list[str] = []
    outcome = target.apply(make_manifest(registry.version("signature_only")), lines.append)
    assert outcome.changed
    assert "smoke test passed on 1 row(s) from its signature" in lines


def test_health_reports_the_serving_versions_counters(
    target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """Post-deploy verification reads requests and errors of what serves."""
    manifest = make_manifest(registry.version("logistic"))
    target.apply(manifest, print)
    for _ in range(3):
        client.post("/v1/models/churn/predict", json=SAFE_ROWS).raise_for_status()
    client.post("/v1/models/churn/predict", json=[{"a": 1.0}])
    [sample] = target.health("churn", "production", manifest.deployment)
    assert (sample.version, sample.requests, sample.errors) == (manifest.version, 4, 1)
    assert sample.p99_latency_ms is not None


def test_unreachable_server_is_a_target_error_with_a_hint(registry: Registry) -> None:
    """A stopped scoring server says how to start one, not a traceback."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    target = LocalTarget(f"http://127.0.0.1:{port}", registry.tracking_uri, check=CanaryCheck())
    with pytest.raises(TargetError, match="did not answer") as caught:
        target.apply(make_manifest(registry.version("logistic")), print)
    assert "promobot serve-models" in (caught.value.hint or "")
