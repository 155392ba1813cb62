"""`mergeable` is computed in the background, as on GitHub: null first, then a state
that says why a pull request can or cannot merge; a merge onto a base that moved since
is refused with 405 "Base branch was modified"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from tests.sandbox_github.helpers import (
    MANIFEST,
    commit_on_branch,
    open_pull,
    repository,
    strict_sandbox,
    wait_mergeable,
)
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import GitHubSandbox

BRANCH = "promobot/production/churn"
BASE_MODIFIED = "Base branch was modified. Review and try the merge again."


def slow_job(seed: dict[str, Any]) -> None:
    """A job long enough that the reads right after a change certainly find it running."""
    seed["timing"] = {"mergeability_seconds": 1.5}


def test_mergeable_is_null_until_githubs_job_is_done(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """Clients must wait for a non-null `mergeable`, after opening and after every move
    of the head or the base."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, slow_job) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        commit_on_branch(repo, BRANCH, {MANIFEST: "version: '2'\n"})
        created = repo.create_pull(title="Promote", body="", head=BRANCH, base="main")
        assert (created.mergeable, created.mergeable_state) == (None, "unknown")
        assert repo.get_pull(created.number).mergeable is None
        computed = wait_mergeable(repo, created.number)
        assert (computed.mergeable, computed.mergeable_state) == (True, "clean")
        commit_on_branch(repo, BRANCH, {"notes.md": "head moved\n"})
        assert repo.get_pull(created.number).mergeable_state == "unknown"
        assert wait_mergeable(repo, created.number).mergeable_state == "clean"
        commit_on_branch(repo, "main", {"other.md": "base moved\n"})
        assert repo.get_pull(created.number).mergeable is None
        assert wait_mergeable(repo, created.number).mergeable is True


def test_webhook_payloads_carry_null_mergeable(github_sandbox: GitHubSandbox) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    pr.add_to_labels("promotion")
    receiver = github_sandbox.receiver
    for action in ("opened", "labeled"):
        payload = receiver.wait_for("pull_request", action).payload["pull_request"]
        assert (payload["mergeable"], payload["mergeable_state"]) == (None, "unknown")


def test_a_merge_onto_a_base_that_moved_is_refused_until_recomputed(
    github_sandbox: GitHubSandbox,
) -> None:
    """GitHub's transient 405, distinct from the 409 of a stale `sha`."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    commit_on_branch(repo, "main", {"other.md": "base moved\n"})
    with pytest.raises(GithubException) as moved:
        pr.merge(merge_method="squash", sha=pr.head.sha)
    assert moved.value.status == 405
    assert moved.value.data["message"] == BASE_MODIFIED
    with pytest.raises(GithubException) as stale:
        pr.merge(merge_method="squash", sha="0" * 40)
    assert stale.value.status == 409
    wait_mergeable(repo, pr.number)
    assert pr.merge(merge_method="squash", sha=pr.head.sha).merged


def test_a_merge_before_mergeability_was_ever_computed_is_refused(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """Merging at once after opening meets the same transient 405 on GitHub."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, slow_job) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        commit_on_branch(repo, BRANCH, {MANIFEST: "version: '2'\n"})
        pr = repo.create_pull(title="Promote", body="", head=BRANCH, base="main")
        with pytest.raises(GithubException) as early:
            pr.merge(merge_method="squash")
        assert early.value.status == 405
        wait_mergeable(repo, pr.number)
        assert pr.merge(merge_method="squash").merged


def admin_pushes_to_main(sb: GitHubSandbox, files: dict[str, str]) -> None:
    """An administrator may bypass classic protection (no `enforce_admins`)."""
    commit_on_branch(sb.github("alice").get_repo(sb.repo_name), "main", files)


def conflict(sb: GitHubSandbox) -> None:
    admin_pushes_to_main(sb, {MANIFEST: "version: 'other'\n"})


def behind(sb: GitHubSandbox) -> None:
    admin_pushes_to_main(sb, {"unrelated.md": "main moved on\n"})


def failing_check(sb: GitHubSandbox) -> None:
    repo = sb.github("bob").get_repo(sb.repo_name)
    sha = repo.get_branch(BRANCH).commit.sha
    repo.get_commit(sha).create_status("failure", context="lint")


def nothing(_: GitHubSandbox) -> None:
    return


def protect_main(seed: dict[str, Any]) -> None:
    repository(seed)["branch_protection"] = {
        "main": {
            "required_status_checks": {"strict": True, "contexts": ["ci"]},
            "required_pull_request_reviews": {"required_approving_review_count": 1},
        }
    }


def pass_ci(repo: Any) -> None:
    sha = repo.get_branch(BRANCH).commit.sha
    repo.get_commit(sha).create_status("success", context="ci")


@pytest.mark.parametrize(
    ("situation", "approve", "state"),
    [
        (nothing, True, "clean"),
        (nothing, False, "blocked"),
        (conflict, True, "dirty"),
        (behind, True, "behind"),
        (failing_check, True, "unstable"),
    ],
)
def test_mergeable_state_says_why(
    tmp_path: Path,
    rest_contract: RestContract,
    webhook_contract: WebhookContract,
    situation: Callable[[GitHubSandbox], None],
    approve: bool,
    state: str,
) -> None:
    """blocked: protection unmet; behind: strict up-to-date unmet; dirty: conflicts;
    unstable: a check nobody requires is failing."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, protect_main) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        pr = open_pull(repo)
        pass_ci(repo)
        if approve:
            carol = sb.github("carol").get_repo(sb.repo_name).get_pull(pr.number)
            carol.create_review(event="APPROVE")
        situation(sb)
        assert wait_mergeable(repo, pr.number).mergeable_state == state
