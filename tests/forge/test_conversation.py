"""Reading the repository and talking on pull requests: files, comments, labels, reviews,
teams and permissions, as the gate-and-merge workflow reads them."""

from __future__ import annotations

import pytest

from bot.forge.base import ForgeTeamNotFoundError, Permission
from bot.forge.github import GitHubForge
from tests.forge.support import APP_BOT, MANIFEST, manifest_text, promote
from tests.support.github_sandbox import GitHubSandbox


def test_default_branch_and_files(forge: GitHubForge, github_sandbox: GitHubSandbox) -> None:
    """The manifest on the default branch is where the champion is read from."""
    head = forge.default_branch()
    assert head.name == "main"
    repo = github_sandbox.github("alice").get_repo(github_sandbox.repo_name)
    assert head.sha == repo.get_branch("main").commit.sha
    assert forge.read_file(MANIFEST) == manifest_text(1)
    assert forge.read_file("model-manifests/production/absent.yaml") is None
    assert forge.list_files("model-manifests") == [MANIFEST]
    assert forge.list_files("policies") == []


def test_read_file_at_a_ref(forge: GitHubForge) -> None:
    """`promobot check` reads the manifest as the pull request's head has it."""
    result = promote(forge, 2)
    assert forge.read_file(MANIFEST, ref=result.commit_sha) == manifest_text(2)
    assert forge.read_file(MANIFEST, ref=result.branch) == manifest_text(2)
    assert forge.read_file(MANIFEST) == manifest_text(1)


def test_upsert_comment_edits_in_place(forge: GitHubForge) -> None:
    """The bot's status comment is one comment, edited on every change."""
    number = promote(forge, 2).pull_request.number
    first = forge.upsert_comment(number, "<!-- promobot:status -->", "waiting for approval")
    second = forge.upsert_comment(number, "<!-- promobot:status -->", "ready to merge")
    comments = forge.list_comments(number)
    assert [c.id for c in comments] == [first.id]
    assert second.id == first.id
    assert comments[0].body == "<!-- promobot:status -->\nready to merge"
    assert comments[0].user == APP_BOT


def test_upsert_ignores_other_peoples_comments_with_the_marker(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Someone quoting the marker must not get their comment overwritten."""
    number = promote(forge, 2).pull_request.number
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    repo.get_issue(number).create_comment("quoting <!-- promobot:status --> here")
    forge.upsert_comment(number, "<!-- promobot:status -->", "bot text")
    comments = forge.list_comments(number)
    assert [c.user for c in comments] == ["bob", APP_BOT]
    assert comments[0].body == "quoting <!-- promobot:status --> here"


def test_plain_comments_in_order(forge: GitHubForge) -> None:
    """Refusals and explanations are plain comments, listed oldest first."""
    number = promote(forge, 2).pull_request.number
    forge.create_comment(number, "one")
    forge.create_comment(number, "two")
    assert [c.body for c in forge.list_comments(number)] == ["one", "two"]


def test_labels_added_and_removed(forge: GitHubForge) -> None:
    """`/promobot hold` adds a label and `/promobot unhold` removes it, absent or not."""
    number = promote(forge, 2, labels=[]).pull_request.number
    forge.add_labels(number, ["hold"])
    assert forge.get_pull_request(number, with_files=False).labels == ("hold",)
    forge.remove_label(number, "hold")
    forge.remove_label(number, "hold")
    assert forge.get_pull_request(number, with_files=False).labels == ()


def test_reviews_carry_user_state_and_commit(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Approvals count only for the head SHA, so each review says which commit it saw."""
    result = promote(forge, 2)
    number = result.pull_request.number
    carol = github_sandbox.github("carol").get_repo(github_sandbox.repo_name)
    carol.get_pull(number).create_review(event="APPROVE", body="lgtm")
    bob = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    bob.get_pull(number).create_review(event="REQUEST_CHANGES", body="wait")
    reviews = forge.list_reviews(number)
    assert [(r.user, r.state) for r in reviews] == [
        ("carol", "APPROVED"),
        ("bob", "CHANGES_REQUESTED"),
    ]
    assert all(r.commit_id == result.commit_sha for r in reviews)
    assert all(r.submitted_at is not None and r.submitted_at.tzinfo for r in reviews)


def test_team_membership(forge: GitHubForge) -> None:
    """Only members (and maintainers) of the policy's teams may approve."""
    assert forge.is_team_member("acme", "ml-reviewers", "carol")
    assert forge.is_team_member("acme", "ml-reviewers", "alice")
    assert not forge.is_team_member("acme", "ml-reviewers", "bob")


def test_unknown_team_is_an_error_not_a_no(forge: GitHubForge) -> None:
    """A policy naming a team that does not exist would wait for approvals forever."""
    with pytest.raises(ForgeTeamNotFoundError, match="acme/no-such-team") as raised:
        forge.is_team_member("acme", "no-such-team", "carol")
    assert raised.value.hint is not None
    assert "approval.teams" in raised.value.hint


def test_collaborator_permissions(forge: GitHubForge) -> None:
    """Comment commands need write permission."""
    assert forge.collaborator_permission("alice") is Permission.ADMIN
    assert forge.collaborator_permission("bob") is Permission.WRITE
    assert forge.collaborator_permission("dave") is Permission.READ
    assert not forge.collaborator_permission("dave").can_write
    assert forge.collaborator_permission("nobody-at-all") is Permission.NONE


def test_close_with_a_comment_is_idempotent(forge: GitHubForge) -> None:
    """`on_rejected: close`: closing twice leaves one explanation."""
    number = promote(forge, 2).pull_request.number
    forge.close_pull_request(number, "rejected: f1 regressed")
    closed = forge.close_pull_request(number, "rejected: f1 regressed")
    assert closed.state.value == "closed"
    assert not closed.merged
    assert [c.body.splitlines()[-1] for c in forge.list_comments(number)] == [
        "rejected: f1 regressed"
    ]
    assert forge.list_promotion_pull_requests() == []
