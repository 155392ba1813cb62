"""Merging over HTTP: mergeability computed in the background, the transient 405 retried,
protection's 405s turned into blockers without a retry, signatures, and GitHub's own
"Update branch" merge (what merging decides is in the contract)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.forge.base import (
    ForgeMergeBlockedError,
    MergeBlock,
    MergeMethod,
    PromotionOutcome,
)
from bot.forge.github import GitHubForge
from tests.forge.gitutil import commits_on, file_at, git, head_of
from tests.forge.support import (
    MANIFEST,
    SeedChange,
    app_settings,
    counted,
    manifest_text,
    promote,
    protect,
    token_settings,
)
from tests.support.github_sandbox import GitHubSandbox

MERGE = "/merge"


def move_main(sandbox: GitHubSandbox, path: str = "notes.md", text: str = "n\n") -> None:
    """Someone lands an unrelated change on main: the promotion branch falls behind."""
    repo = sandbox.github("alice").get_repo(sandbox.repo_name)
    repo.create_file(path, "unrelated change", text, branch="main")


def test_merge_waits_instead_of_being_refused(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Merging a fresh pull request costs one PUT: no 405 "Base branch was modified"."""
    result = promote(forge, 2)
    forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    assert counted(github_sandbox, "PUT", MERGE) == [200]


def slow_mergeability(seed: dict[str, Any]) -> None:
    """GitHub takes a second to compute mergeability: long enough to merge meanwhile."""
    seed["timing"] = {"mergeability_seconds": 1.0}


def test_transient_405_is_retried_with_backoff(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """Merging while GitHub recomputes mergeability after main moved is refused with a 405
    that means "try again"; the adapter tries again rather than reporting a blocker."""
    sandbox = make_sandbox(slow_mergeability)
    impatient = app_settings(
        sandbox, mergeability_timeout_seconds=0, merge_attempts=8, merge_backoff_seconds=0.05
    )
    with GitHubForge(impatient) as forge:
        result = promote(forge, 2)
        forge.wait_mergeable(result.pull_request.number, timeout=10)
        move_main(sandbox)
        merged = forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    statuses = counted(sandbox, "PUT", MERGE)
    assert statuses[0] == 405
    assert statuses[-1] == 200
    assert head_of(sandbox.bare_path(), "main") == merged.sha


@pytest.mark.parametrize(
    ("rules", "kind", "reason"),
    [
        (
            {"required_pull_request_reviews": {"required_approving_review_count": 1}},
            MergeBlock.REVIEWS,
            "At least 1 approving review is required by reviewers with write access.",
        ),
        (
            {"required_status_checks": {"strict": False, "contexts": ["ci/tests"]}},
            MergeBlock.CHECKS,
            'Required status check "ci/tests" is expected.',
        ),
    ],
)
def test_protection_405_is_a_blocker_and_not_retried(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
    rules: dict[str, Any],
    kind: MergeBlock,
    reason: str,
) -> None:
    """A rule says "not until something changes": one attempt, GitHub's words, the kind."""
    sandbox = make_sandbox(protect(**rules))
    with GitHubForge(app_settings(sandbox)) as forge:
        result = promote(forge, 2)
        with pytest.raises(ForgeMergeBlockedError) as blocked:
            forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    assert blocked.value.kind is kind
    assert blocked.value.reason == reason
    assert blocked.value.hint is not None
    assert counted(sandbox, "PUT", MERGE) == [405]


def test_unsigned_commits_are_a_signature_blocker(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """A token's commits are unsigned: a merge commit of them is refused by the rule."""
    sandbox = make_sandbox(protect(required_signatures=True))
    with GitHubForge(token_settings(sandbox, login="bob")) as forge:
        result = promote(forge, 2)
        with pytest.raises(ForgeMergeBlockedError) as blocked:
            forge.merge(
                result.pull_request.number,
                expected_head_sha=result.commit_sha,
                method=MergeMethod.MERGE,
            )
    assert blocked.value.kind is MergeBlock.SIGNATURES
    assert blocked.value.reason == "Commits must have verified signatures."


def test_githubs_update_branch_merge_is_not_a_human_commit(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """A person pressing "Update branch" adds GitHub's two-parent merge; the next challenger
    still replaces the branch with one bot commit instead of stopping for a human commit."""
    sandbox = make_sandbox(protect(required_status_checks={"strict": True, "contexts": []}))
    bare = sandbox.bare_path()
    with GitHubForge(app_settings(sandbox)) as forge:
        first = promote(forge, 2)
        move_main(sandbox)
        carol = sandbox.github("carol").get_repo(sandbox.repo_name)
        assert carol.get_pull(first.pull_request.number).update_branch()
        merge_commit = git("log", "-1", "--format=%P %cn", first.branch, git_dir=bare).split()
        assert merge_commit[2:] == ["GitHub"]
        assert len(merge_commit[:2]) == 2
        second = promote(forge, 3)
        assert second.outcome is PromotionOutcome.UPDATED
        assert commits_on(bare, first.branch) == [second.commit_sha]
        assert file_at(bare, first.branch, MANIFEST) == manifest_text(3)


def test_auto_revert_survives_the_fresh_pull_request(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """The rollback opens the revert and merges it at once, while GitHub still computes."""
    promoted = promote(forge, 2)
    forge.merge(promoted.pull_request.number, expected_head_sha=promoted.commit_sha)
    result = forge.open_revert(promoted.pull_request.number, merge=True)
    assert result.merge_sha == head_of(github_sandbox.bare_path(), "main")
    assert file_at(github_sandbox.bare_path(), "main", MANIFEST) == manifest_text(1)
