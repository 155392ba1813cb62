"""Merging with the head-SHA guard: a push after the decision is never merged unseen."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.forge.base import ForgeHeadMovedError, ForgeNotMergeableError, MergeMethod
from bot.forge.github import GitHubForge
from tests.forge.gitutil import file_at, git, push_commit
from tests.forge.support import MANIFEST, manifest_text, promote
from tests.support.github_sandbox import GitHubSandbox


def test_squash_merge_lands_one_commit(forge: GitHubForge, github_sandbox: GitHubSandbox) -> None:
    """One commit on main per promotion, so one `git revert` undoes one promotion."""
    before = forge.default_branch().sha
    result = promote(forge, 2)
    merged = forge.merge(
        result.pull_request.number,
        expected_head_sha=result.commit_sha,
        title="Promote churn-classifier v2 (#1)",
        message="approved by carol",
    )
    bare = github_sandbox.bare_path()
    assert git("rev-parse", "main", git_dir=bare).strip() == merged.sha
    assert git("rev-list", f"{before}..main", git_dir=bare).split() == [merged.sha]
    assert git("log", "-1", "--format=%s", "main", git_dir=bare).strip().startswith("Promote")
    assert file_at(bare, "main", MANIFEST) == manifest_text(2)
    pull = forge.get_pull_request(result.pull_request.number, with_files=False)
    assert pull.merged
    assert pull.merge_commit_sha == merged.sha


def test_merge_retried_after_success_returns_the_same_commit(forge: GitHubForge) -> None:
    """A merge whose answer was lost is repeated safely."""
    result = promote(forge, 2)
    first = forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    again = forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    assert again.sha == first.sha


def test_head_moved_after_the_decision_is_refused(
    forge: GitHubForge, github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    """A push after the approval (409) must not be merged."""
    result = promote(forge, 2)
    branch = result.branch
    push_commit(github_sandbox.bare_path(), tmp_path / "c", branch, MANIFEST, "x\n", who="bob")
    with pytest.raises(ForgeHeadMovedError, match="head moved"):
        forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    assert not forge.get_pull_request(result.pull_request.number, with_files=False).merged


@pytest.mark.parametrize("state", ["draft", "closed"])
def test_unmergeable_pull_request_is_refused(forge: GitHubForge, state: str) -> None:
    """Drafts and closed pull requests (405) are not merged."""
    result = promote(forge, 2, draft=state == "draft")
    if state == "closed":
        forge.close_pull_request(result.pull_request.number)
    with pytest.raises(ForgeNotMergeableError, match="not mergeable"):
        forge.merge(
            result.pull_request.number,
            expected_head_sha=result.commit_sha,
            method=MergeMethod.MERGE,
        )
