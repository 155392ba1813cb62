"""The promotion pull request over HTTP: one commit made with the Git Data API, drafts
flipped with GraphQL, and runs interrupted by server errors completed by a rerun. What the
promotion does is in the contract (tests/forge/test_contract.py)."""

from __future__ import annotations

import pytest

from bot.errors import ForgeError
from bot.forge.base import (
    PromotionOutcome,
)
from bot.forge.github import GitHubForge
from tests.forge.gitutil import commits_on, file_at
from tests.forge.support import MANIFEST, manifest_text, promote
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
