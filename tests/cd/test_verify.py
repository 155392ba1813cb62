"""Post-deploy verification: the pure verdict, and the watch over a window on an injected clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.domain.policy import VerifySection
from bot.domain.verification import HealthSample, verification_verdict
from bot.formats.loading import load_manifest_text
from bot.gitrepo import GitRepo
from bot.workflows.apply import apply_changes
from bot.workflows.verify import (
    VerifyAction,
    promotion_pull_request,
    verify_applied,
    verify_deployment,
    watch_version,
)
from tests.cd.support import GitOpsRepo, RecordingTarget, manifest_text


def sample(
    requests: int, errors: int = 0, p99: float | None = None, version: str = "2"
) -> HealthSample:
    return HealthSample(version=version, requests=requests, errors=errors, p99_latency_ms=p99)


def make_verify(**overrides: Any) -> VerifySection:
    values: dict[str, Any] = {
        "window_minutes": 1,
        "max_error_rate": 0.01,
        "max_p99_latency_ms": 250,
    }
    values.update(overrides)
    return VerifySection(**values)


@pytest.mark.parametrize(
    ("samples", "ok", "words"),
    [
        ([], True, "nothing to judge"),
        ([sample(0)], True, "too few"),
        ([sample(1000, 5, 120.0)], True, "within"),
        ([sample(1000, 10, 120.0)], True, "within"),
        ([sample(1000, 11, 120.0)], False, "error rate 1.10%"),
        ([sample(100, 50), sample(1000, 50, 120.0)], False, "error rate 5.00%"),
        ([sample(1000, 0, 400.0)], False, "p99 latency 400.0 ms"),
        ([sample(1000, 0, None)], True, "within"),
    ],
)
def test_verification_verdict(samples: list[HealthSample], ok: bool, words: str) -> None:
    """The latest reading covers the window so far; limits are the policy's."""
    verdict, reason = verification_verdict(samples, make_verify())
    assert verdict is ok
    assert words in reason


def test_too_few_requests_cannot_fail_a_version() -> None:
    """Two errors out of three requests are noise, not a reason to roll back early."""
    assert verification_verdict([sample(3, 2)], make_verify(), min_requests=20)[0]
    assert not verification_verdict([sample(3, 2)], make_verify(), min_requests=1)[0]


class FakeClock:
    """Time that moves only when the watch waits: the window passes instantly and exactly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class ScriptedTarget:
    """Health readings that grow as the clock moves: `errors_from` seconds on, requests fail."""

    def __init__(self, clock: FakeClock, errors_from: float | None = None) -> None:
        self.clock = clock
        self.errors_from = errors_from

    def health(self, model: str, environment: str, deployment: Any) -> list[HealthSample]:
        del model, environment, deployment
        requests = int(self.clock.now * 10)
        failing = self.errors_from is not None and self.clock.now >= self.errors_from
        errors = int((self.clock.now - (self.errors_from or 0)) * 10) if failing else 0
        return [sample(requests, errors, 20.0), sample(500, 0, 20.0, version="1")]


MANIFEST = load_manifest_text(
    manifest_text("churn", "2", pull_request=5), "model-manifests/production/churn.yaml"
)


def test_a_healthy_version_is_watched_for_the_whole_window() -> None:
    """Verification lasts the policy's window, polling at the injected interval."""
    clock = FakeClock()
    ok, reason, taken = watch_version(
        ScriptedTarget(clock),
        MANIFEST,
        make_verify(window_minutes=1),
        interval_seconds=10,
        clock=clock,
        wait=clock.wait,
    )
    assert ok
    assert "600 request(s), 0 error(s)" in reason
    assert taken == 7
    assert clock.now == 60


def test_a_failing_version_stops_the_watch_early() -> None:
    """Once enough requests failed, waiting for the rest of the window only hurts users."""
    clock = FakeClock()
    ok, reason, _ = watch_version(
        ScriptedTarget(clock, errors_from=20),
        MANIFEST,
        make_verify(window_minutes=30),
        interval_seconds=10,
        clock=clock,
        wait=clock.wait,
    )
    assert not ok
    assert "error rate" in reason
    assert clock.now == 30


def test_a_version_that_no_longer_serves_ends_verification() -> None:
    """Someone rolled back already: nothing left to verify, nothing to revert."""
    clock = FakeClock()
    other = load_manifest_text(manifest_text("churn", "9"), "model-manifests/production/churn.yaml")
    ok, reason, taken = watch_version(
        ScriptedTarget(clock),
        other,
        make_verify(),
        interval_seconds=10,
        clock=clock,
        wait=clock.wait,
    )
    assert ok
    assert "no longer serves" in reason
    assert taken == 0


@pytest.mark.parametrize(
    ("on_failure", "action"),
    [("revert", VerifyAction.REVERT_FAILED), ("alert", VerifyAction.ALERTED)],
)
def test_failure_without_github_says_how_to_finish_by_hand(
    on_failure: str, action: VerifyAction
) -> None:
    """Without a forge the bot cannot open the revert; it says which `git revert` to run."""
    clock = FakeClock()
    rejected: list[tuple[str, ...]] = []
    outcome = verify_deployment(
        MANIFEST,
        ScriptedTarget(clock, errors_from=0),  # type: ignore[arg-type]
        make_verify(on_failure=on_failure),
        forge=None,
        record_rejected=lambda *args: rejected.append(args),
        interval_seconds=10,
        clock=clock,
        wait=clock.wait,
    )
    assert not outcome.ok
    assert outcome.action is action
    if on_failure == "revert":
        assert "git revert" in outcome.detail
        assert [r[:3] for r in rejected] == [("churn", "production", "2")]
    else:
        assert "keeps serving" in outcome.detail
        assert rejected == []


@pytest.mark.parametrize(
    ("message", "number"),
    [("Promote churn to version 2 (#9)", 9), ("Hand edit of the manifest", 5), (None, 5)],
)
def test_promotion_pull_request(message: str | None, number: int) -> None:
    """GitHub's merge message wins; the manifest's evaluation.pull_request is the fallback."""
    assert promotion_pull_request(MANIFEST, message) == number


def test_verify_applied_reads_each_models_policy_from_the_repository(tmp_path: Path) -> None:
    """`apply --verify` watches every new version with the window of its own policy."""
    repo = GitOpsRepo(tmp_path / "models")
    repo.write("policies/defaults.yaml", POLICY.format(name="defaults", models='"*"', minutes=5))
    repo.write("policies/fraud.yaml", POLICY.format(name="fraud", models="fraud", minutes=1))
    repo.write_manifest("churn", "2")
    repo.write_manifest("fraud", "7")
    repo.commit("Deploy two models")
    clock = FakeClock()
    target = RecordingTarget()
    rejected: list[tuple[str, ...]] = []
    with GitRepo(repo.path) as git_repo:
        report = apply_changes(git_repo, lambda _d: target)
        target.errors = {"fraud": (100, 40)}
        outcomes = verify_applied(
            report,
            git_repo,
            lambda _d: target,
            forge=None,
            record_rejected=lambda *args: rejected.append(args),
            interval_seconds=30,
            clock=clock,
            wait=clock.wait,
        )
    churn, fraud = outcomes
    assert churn.ok
    assert churn.samples == 11  # 5 minutes, a reading every 30 s, and one at the start
    assert not fraud.ok
    assert fraud.samples == 1  # failed at the first reading
    assert "error rate 40.00%" in fraud.reason
    assert [r[:3] for r in rejected] == [("fraud", "production", "7")]


POLICY = """apiVersion: promobot/v1
kind: PromotionPolicy
name: {name}
applies_to: {{models: [{models}]}}
compare: {{primary: {{metric: accuracy}}}}
verify: {{window_minutes: {minutes}, max_error_rate: 0.01, on_failure: revert}}
"""
