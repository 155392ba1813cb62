"""The policy verdict cannot be forged: only the bot's own check run (App) or status (token)
counts, and every page of statuses and check runs is read."""

from __future__ import annotations

from collections.abc import Callable

from bot.forge.base import Annotation, AnnotationLevel, CommitState
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import app_settings, counted, promote, token_settings
from tests.support.github_sandbox import GitHubSandbox

POLICY = "promobot/policy"


def test_app_verdict_is_a_check_run_of_its_own(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """With an App the verdict is a check run the App owns, with its report."""
    sha = promote(forge, 2).commit_sha
    forge.set_verdict(
        sha, CommitState.SUCCESS, title="promote", summary="f1 +0.02", text="## Rules\nall pass"
    )
    repo = github_sandbox.github("alice").get_repo(github_sandbox.repo_name)
    (run,) = list(repo.get_commit(sha).get_check_runs())
    assert run.name == POLICY
    assert run.app.id == github_sandbox.app_id
    assert run.conclusion == "success"
    assert (run.output.title, run.output.summary, run.output.text) == (
        "promote",
        "f1 +0.02",
        "## Rules\nall pass",
    )
    assert forge.get_checks(sha).verdict() is True


def test_a_forged_status_does_not_pass_the_app_verdict(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Anyone with write access can post `promobot/policy: success` on a pushed head; it is
    reported as foreign and never counts."""
    sha = promote(forge, 2).commit_sha
    forge.set_verdict(sha, CommitState.FAILURE, title="reject", summary="f1 regressed")
    bob = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    bob.get_commit(sha).create_status("success", description="lgtm", context=POLICY)
    checks = forge.get_checks(sha)
    assert checks.verdict() is False
    assert checks.is_passing(POLICY) is False
    assert [f.describe() for f in checks.foreign_verdicts()] == [
        "status promobot/policy (success) set by bob"
    ]


def test_a_forged_status_alone_is_no_verdict(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Before the bot has judged a head, a status by someone else is not a pass."""
    sha = promote(forge, 2).commit_sha
    bob = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    bob.get_commit(sha).create_status("success", context=POLICY)
    assert forge.get_checks(sha).is_passing(POLICY) is None


def test_token_verdict_is_the_bots_own_status(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """With a token only a status whose creator is the bot's user counts."""
    forge = make_forge(token_settings(github_sandbox, login="bob"))
    sha = promote(forge, 2).commit_sha
    forge.set_verdict(sha, CommitState.FAILURE, title="reject: f1 regressed", summary="ignored")
    carol = github_sandbox.github("carol").get_repo(github_sandbox.repo_name)
    carol.get_commit(sha).create_status("success", context=POLICY)
    checks = forge.get_checks(sha)
    assert checks.verdict() is False
    (own,) = [s for s in checks.statuses if s.creator == "bob"]
    assert own.description == "reject: f1 regressed"
    assert [f.by for f in checks.foreign_verdicts()] == ["carol"]


def test_another_apps_check_run_is_foreign(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """In token mode any check run named like the verdict is someone else's."""
    app = make_forge(app_settings(github_sandbox))
    sha = promote(app, 2).commit_sha
    app.set_verdict(sha, CommitState.SUCCESS, title="promote", summary="ok")
    token = make_forge(token_settings(github_sandbox, login="bob"))
    checks = token.get_checks(sha)
    assert checks.verdict() is None
    assert [f.kind for f in checks.foreign_verdicts()] == ["check run"]


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
