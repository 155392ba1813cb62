"""Merges make real commits on the base branch, guarded by the head SHA."""

from __future__ import annotations

import subprocess

import pytest
from github import GithubException

from tests.sandbox_github.helpers import MANIFEST, commit_on_branch, open_pull, wait_mergeable
from tests.support.github_sandbox import GitHubSandbox


def git(bare: object, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={bare}", *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.parametrize(("method", "parents"), [("merge", 2), ("squash", 1), ("rebase", 1)])
def test_merge_methods_write_real_commits(
    github_sandbox: GitHubSandbox, method: str, parents: int
) -> None:
    """Squash gives one commit per promotion (one `git revert` undoes it); all three
    must leave the base branch holding the pull request's tree."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    commit_on_branch(repo, "promobot/production/churn", {"notes.md": "why\n"})
    old_main = repo.get_branch("main").commit.sha
    result = pr.merge(merge_method=method, sha=repo.get_pull(pr.number).head.sha)
    bare = github_sandbox.bare_path()
    assert result.merged
    assert git(bare, "rev-parse", "refs/heads/main") == result.sha
    assert len(git(bare, "rev-list", "--parents", "-n", "1", result.sha).split()) - 1 == parents
    assert git(bare, "show", f"{result.sha}:{MANIFEST}") == "version: '2'"
    assert git(bare, "show", f"{result.sha}:notes.md") == "why"
    expected_new_commits = {"merge": 3, "squash": 1, "rebase": 2}[method]
    assert len(git(bare, "rev-list", f"{old_main}..{result.sha}").split()) == expected_new_commits
    merged = repo.get_pull(pr.number)
    assert (merged.merged, merged.state, merged.merge_commit_sha) == (True, "closed", result.sha)
    assert pr.is_merged()


def test_merge_refuses_when_head_moved(github_sandbox: GitHubSandbox) -> None:
    """A push after the approval must never be merged unseen: 409, nothing merged."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    approved_sha = pr.head.sha
    commit_on_branch(repo, "promobot/production/churn", {MANIFEST: "version: '666'\n"})
    with pytest.raises(GithubException) as moved:
        pr.merge(merge_method="squash", sha=approved_sha)
    assert moved.value.status == 409
    assert not pr.is_merged()


def test_conflicting_pull_request_is_not_mergeable(github_sandbox: GitHubSandbox) -> None:
    """405 and `mergeable: false` when base and head changed the same lines."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    commit_on_branch(repo, "main", {MANIFEST: "version: 'other'\n"})
    fresh = wait_mergeable(repo, pr.number)
    assert (fresh.mergeable, fresh.mergeable_state) == (False, "dirty")
    with pytest.raises(GithubException) as conflict:
        pr.merge()
    assert conflict.value.status == 405


def test_closed_and_draft_pull_requests_are_not_mergeable(github_sandbox: GitHubSandbox) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    pr.edit(state="closed")
    with pytest.raises(GithubException) as closed:
        pr.merge()
    assert closed.value.status == 405
    commit_on_branch(repo, "draft-branch", {"draft.txt": "x\n"})
    draft = repo.create_pull(title="draft", body="", head="draft-branch", base="main", draft=True)
    assert wait_mergeable(repo, draft.number).mergeable_state == "draft"
    with pytest.raises(GithubException) as is_draft:
        draft.merge()
    assert is_draft.value.status == 405


def test_read_only_user_cannot_merge_or_push(github_sandbox: GitHubSandbox) -> None:
    """Permissions are enforced: dave has read access only."""
    pr = open_pull(github_sandbox.github("bob").get_repo(github_sandbox.repo_name))
    dave_repo = github_sandbox.github("dave").get_repo(github_sandbox.repo_name)
    with pytest.raises(GithubException) as merge:
        dave_repo.get_pull(pr.number).merge()
    assert merge.value.status == 403
    with pytest.raises(GithubException) as push:
        dave_repo.create_git_ref("refs/heads/sneaky", pr.head.sha)
    assert push.value.status == 403
    assert not pr.is_merged()
