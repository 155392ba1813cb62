"""Opening and updating the one promotion pull request per (model, environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ForgeError
from bot.forge.base import (
    ForgeHumanCommitError,
    ForgeNothingToChangeError,
    PromotionOutcome,
    PullState,
)
from bot.forge.github import GitHubForge
from bot.forge.markers import BODY_BEGIN, BODY_END, HUMAN_COMMIT_MARKER
from tests.forge.gitutil import commits_on, file_at, head_of, push_commit
from tests.forge.support import APP_BOT, MANIFEST, manifest_text, promote
from tests.support.github_sandbox import GitHubSandbox

BRANCH = "promobot/production/churn-classifier"


def test_open_makes_one_commit_with_the_git_data_api(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """The pull request carries exactly one bot commit changing the manifest, built from a
    tree and a commit object rather than file-by-file Contents API writes."""
    github_sandbox.clear_requests()
    result = promote(forge, 2)
    calls = [(entry["method"], entry["path"]) for entry in github_sandbox.requests()]
    assert not [call for call in calls if "/contents/" in call[1]]
    assert ("POST", "/api/v3/repos/acme/models/git/trees") in calls
    assert ("POST", "/api/v3/repos/acme/models/git/commits") in calls
    bare = github_sandbox.bare_path()
    assert commits_on(bare, BRANCH) == [result.commit_sha]
    assert file_at(bare, BRANCH, MANIFEST) == manifest_text(2)
    assert result.outcome is PromotionOutcome.CREATED


def test_open_sets_title_body_labels_and_reviewers(forge: GitHubForge) -> None:
    """Reviewers see the report between the markers, the labels and their review request."""
    result = promote(forge, 2)
    pull = forge.get_pull_request(result.pull_request.number)
    assert pull.title == "Promote churn-classifier v2 to production"
    assert pull.body.startswith(BODY_BEGIN)
    assert "challenger v2" in pull.body
    assert pull.body.endswith(BODY_END)
    assert set(pull.labels) == {"promotion", "model:churn-classifier"}
    assert pull.requested_reviewers == ("carol",)
    assert pull.requested_teams == ("ml-reviewers",)
    assert pull.author == APP_BOT
    assert pull.head_ref == BRANCH
    assert pull.head_sha == result.commit_sha
    assert pull.files == (MANIFEST,)
    assert not pull.draft


def test_newer_challenger_updates_the_open_pull_request(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A second challenger replaces the bot's commit and report in the same pull request."""
    first = promote(forge, 2)
    second = promote(forge, 3)
    assert second.outcome is PromotionOutcome.UPDATED
    assert second.pull_request.number == first.pull_request.number
    bare = github_sandbox.bare_path()
    assert commits_on(bare, BRANCH) == [second.commit_sha]
    assert file_at(bare, BRANCH, MANIFEST) == manifest_text(3)
    pull = forge.get_pull_request(first.pull_request.number)
    assert "challenger v3" in pull.body
    assert "challenger v2" not in pull.body
    assert pull.title.startswith("Promote churn-classifier v3")
    assert [p.number for p in forge.list_promotion_pull_requests()] == [pull.number]


def test_update_keeps_what_people_wrote_outside_the_markers(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Notes a reviewer adds to the body survive the bot's updates."""
    first = promote(forge, 2)
    repo = github_sandbox.github("alice").get_repo(github_sandbox.repo_name)
    human = repo.get_pull(first.pull_request.number)
    human.edit(body=f"Ship it after the freeze.\n\n{human.body}\n\n-- alice")
    promote(forge, 3)
    body = forge.get_pull_request(first.pull_request.number).body
    assert body.startswith("Ship it after the freeze.\n\n")
    assert body.endswith("\n\n-- alice")
    assert "challenger v3" in body
    assert body.count(BODY_BEGIN) == 1


def test_rerun_with_the_same_challenger_changes_nothing(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A redelivered event must not push a new commit: that would void approvals."""
    first = promote(forge, 2)
    again = promote(forge, 2)
    assert again.outcome is PromotionOutcome.UNCHANGED
    assert again.commit_sha == first.commit_sha
    assert head_of(github_sandbox.bare_path(), BRANCH) == first.commit_sha
    assert len(forge.list_promotion_pull_requests()) == 1
    assert forge.list_comments(first.pull_request.number) == []


def test_human_commit_is_never_force_pushed_away(
    forge: GitHubForge, github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    """When a person pushed to the bot's branch, the bot comments once and stops."""
    first = promote(forge, 2)
    bare = github_sandbox.bare_path()
    human = push_commit(bare, tmp_path / "clone", BRANCH, MANIFEST, "edited by hand\n", who="bob")
    blocked = promote(forge, 3)
    assert blocked.outcome is PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT
    assert head_of(bare, BRANCH) == human
    assert file_at(bare, BRANCH, MANIFEST) == "edited by hand\n"
    promote(forge, 4)
    comments = forge.list_comments(first.pull_request.number)
    assert len(comments) == 1
    assert HUMAN_COMMIT_MARKER in comments[0].body
    assert comments[0].user == APP_BOT
    assert "never force-pushes" in comments[0].body


def test_human_branch_without_pull_request_is_refused(
    forge: GitHubForge, github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    """A person's branch under the bot's name, with no pull request, is left alone."""
    first = promote(forge, 2)
    forge.close_pull_request(first.pull_request.number)
    push_commit(github_sandbox.bare_path(), tmp_path / "c", BRANCH, MANIFEST, "x\n", who="bob")
    with pytest.raises(ForgeHumanCommitError, match="never force-pushes"):
        promote(forge, 3)


def test_closed_promotion_branch_is_reused_for_a_new_pull_request(forge: GitHubForge) -> None:
    """After a rejected challenger's pull request was closed, the next one opens anew."""
    first = promote(forge, 2)
    closed = forge.close_pull_request(first.pull_request.number, "superseded")
    assert closed.state is PullState.CLOSED
    second = promote(forge, 3)
    assert second.outcome is PromotionOutcome.CREATED
    assert second.pull_request.number != first.pull_request.number
    assert [p.number for p in forge.list_promotion_pull_requests()] == [second.pull_request.number]


def test_same_content_as_the_default_branch_is_refused(forge: GitHubForge) -> None:
    """Promoting what already serves would open an empty pull request."""
    with pytest.raises(ForgeNothingToChangeError, match="nothing to promote"):
        promote(forge, 1)


def test_draft_at_creation(forge: GitHubForge) -> None:
    """A rejected challenger (policy `on_rejected: draft`) opens as a draft."""
    result = promote(forge, 2, draft=True)
    assert result.pull_request.draft
    assert forge.get_pull_request(result.pull_request.number, with_files=False).draft


def test_passing_challenger_takes_the_pull_request_out_of_draft(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """REST cannot flip a draft; the adapter uses GitHub's GraphQL mutation on update."""
    rejected = promote(forge, 2, draft=True)
    accepted = promote(forge, 3, draft=False)
    assert accepted.pull_request.number == rejected.pull_request.number
    assert not accepted.pull_request.draft
    assert not forge.get_pull_request(accepted.pull_request.number, with_files=False).draft
    github_sandbox.receiver.wait_for("pull_request", action="ready_for_review")


def test_set_draft_both_ways(forge: GitHubForge) -> None:
    """A promotion can be parked as a draft and made ready again."""
    number = promote(forge, 2).pull_request.number
    assert forge.set_draft(number, True).draft
    assert forge.get_pull_request(number, with_files=False).draft
    assert not forge.set_draft(number, False).draft
    assert not forge.get_pull_request(number, with_files=False).draft


def test_interrupted_open_is_completed_by_a_rerun(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A crash after the branch was pushed but before the pull request existed leaves
    nothing duplicated: the rerun opens one pull request on the one commit."""
    github_sandbox.add_fault(r"/pulls$", 500, method="POST", count=4)  # 1 try + 3 retries
    with pytest.raises(ForgeError, match="HTTP 500"):
        promote(forge, 2)
    result = promote(forge, 2)
    assert result.outcome is PromotionOutcome.CREATED
    assert commits_on(github_sandbox.bare_path(), BRANCH) == [result.commit_sha]
    assert len(forge.list_promotion_pull_requests()) == 1


def test_interrupted_before_labels_and_reviewers_is_completed_by_a_rerun(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Labels and review requests lost to a crash are added by the rerun, once."""
    github_sandbox.add_fault(r"/labels$", 502, method="POST", count=4)
    with pytest.raises(ForgeError, match="HTTP 502"):
        promote(forge, 2)
    result = promote(forge, 2)
    assert result.outcome is PromotionOutcome.UNCHANGED
    pull = forge.get_pull_request(result.pull_request.number)
    assert set(pull.labels) == {"promotion", "model:churn-classifier"}
    assert pull.requested_reviewers == ("carol",)
    assert len(forge.list_promotion_pull_requests()) == 1
