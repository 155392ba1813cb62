"""The verdict over HTTP: annotations beyond GitHub's 50 per request, and every page of
statuses and check runs read (whose verdict counts is in the contract)."""

from __future__ import annotations

from collections.abc import Callable

from bot.forge.base import Annotation, AnnotationLevel, CommitState
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import app_settings, counted, promote
from tests.support.github_sandbox import GitHubSandbox

POLICY = "promobot/policy"


def test_more_than_50_annotations_go_in_batches(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """GitHub takes at most 50 annotations per request: one create, then updates."""
    sha = promote(forge, 2).commit_sha
    notes = [
        Annotation(
            path="model-manifests/production/churn-classifier.yaml",
            start_line=line,
            end_line=line,
            level=AnnotationLevel.WARNING,
            message=f"note {line}",
        )
        for line in range(1, 121)
    ]
    github_sandbox.clear_requests()
    forge.set_verdict(sha, CommitState.FAILURE, title="t", summary="s", annotations=notes)
    assert counted(github_sandbox, "POST", "/check-runs") == [201]
    assert len(counted(github_sandbox, "PATCH", "")) == 2
    assert forge.get_checks(sha).verdict() is False


def test_every_page_of_statuses_and_check_runs_is_read(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A commit with more statuses than a page holds still shows all of them."""
    forge = make_forge(app_settings(github_sandbox, per_page=2))
    sha = promote(forge, 2).commit_sha
    for index in range(5):
        forge.set_commit_status(sha, CommitState.SUCCESS, "ok", context=f"ci/{index}")
        forge.set_check_run(sha, f"check/{index}", conclusion=None, title="t", summary="s")
    forge.set_verdict(sha, CommitState.SUCCESS, title="promote", summary="ok")
    checks = forge.get_checks(sha)
    assert sorted(s.context for s in checks.statuses) == [f"ci/{i}" for i in range(5)]
    assert len(checks.check_runs) == 6
    assert checks.verdict() is True
    assert checks.combined_state is CommitState.SUCCESS
