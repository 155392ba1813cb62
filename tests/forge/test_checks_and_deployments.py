"""Verdict statuses, check runs, GitHub deployments and the default branch's history."""

from __future__ import annotations

from bot.forge.base import CheckConclusion, CommitState, DeploymentState
from bot.forge.github import GitHubForge
from tests.forge.support import promote
from tests.support.github_sandbox import GitHubSandbox


def test_verdict_status_and_check_runs_read_back(forge: GitHubForge) -> None:
    """The policy verdict and other required checks are read for one SHA."""
    sha = promote(forge, 2).commit_sha
    forge.set_commit_status(sha, CommitState.PENDING, "evaluating")
    forge.set_commit_status(sha, CommitState.SUCCESS, "f1 +0.02", target_url="http://x/report")
    forge.set_commit_status(sha, CommitState.FAILURE, "lint", context="ci/lint")
    run = forge.set_check_run(
        sha, "promobot/check", conclusion=None, title="checking", summary="recomputing metrics"
    )
    snapshot = forge.get_checks(sha)
    assert snapshot.is_passing("promobot/policy") is True
    assert snapshot.is_passing("ci/lint") is False
    assert snapshot.is_passing("promobot/check") is None
    assert snapshot.is_passing("absent") is None
    assert snapshot.combined_state is CommitState.FAILURE
    policy = next(s for s in snapshot.statuses if s.context == "promobot/policy")
    assert policy.target_url == "http://x/report"
    forge.set_check_run(
        sha,
        "promobot/check",
        conclusion=CheckConclusion.SUCCESS,
        title="manifest matches the registry",
        summary="ok",
        check_run_id=run,
    )
    assert forge.get_checks(sha).is_passing("promobot/check") is True


def test_long_status_description_is_clipped(forge: GitHubForge) -> None:
    """GitHub refuses descriptions over 140 characters; the verdict must still be set."""
    sha = promote(forge, 2).commit_sha
    forge.set_commit_status(sha, CommitState.SUCCESS, "x" * 500)
    status = forge.get_checks(sha).statuses[0]
    assert status.description is not None
    assert len(status.description) == 140


def test_deployment_and_its_statuses(forge: GitHubForge, github_sandbox: GitHubSandbox) -> None:
    """CD records each apply as a deployment with in_progress, then success."""
    head = forge.default_branch()
    deployment = forge.create_deployment(
        head.sha, "production", payload={"model": "churn-classifier"}, description="v2"
    )
    assert deployment.sha == head.sha
    assert deployment.environment == "production"
    forge.set_deployment_status(deployment.id, DeploymentState.IN_PROGRESS, description="rolling")
    forge.set_deployment_status(
        deployment.id,
        DeploymentState.SUCCESS,
        description="v2 serves",
        environment_url="http://127.0.0.1:1/v1/models/churn-classifier",
    )
    http = github_sandbox.http("alice")
    base = f"/repos/{github_sandbox.repo_name}/deployments/{deployment.id}"
    statuses = http.get(f"{base}/statuses").json()
    assert sorted(s["state"] for s in statuses) == ["in_progress", "success"]
    payload = http.get(base).json()["payload"]
    assert payload == {"model": "churn-classifier"}
