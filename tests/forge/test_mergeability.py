"""Merging like GitHub: mergeability computed in the background, the transient 405 retried,
protection's 405s turned into blockers, and branches brought up to date."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.forge.base import (
    ForgeMergeBlockedError,
    MergeBlock,
    MergeMethod,
    PromotionOutcome,
)
from bot.forge.github import GitHubForge
from tests.forge.gitutil import commits_on, file_at, git, head_of, push_commit
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


def test_wait_mergeable_returns_once_github_has_computed_it(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """After the base moved, GitHub answers `mergeable: null` until it has recomputed; the
    adapter polls until it is known."""
    number = promote(forge, 2).pull_request.number
    forge.wait_mergeable(number, timeout=10)
    move_main(github_sandbox)
    unknown = forge.get_pull_request(number, with_files=False)
    assert (unknown.mergeable, unknown.mergeable_state) == (None, "unknown")
    pull = forge.wait_mergeable(number, timeout=10)
    assert pull.mergeable is True
    assert pull.mergeable_state == "clean"


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


def test_branch_behind_is_brought_up_to_date_then_merges(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """ "Require branches to be up to date": the bot's one commit is made again on the new
    main, so the branch still holds exactly one commit, and then it merges."""
    sandbox = make_sandbox(protect(required_status_checks={"strict": True, "contexts": []}))
    bare = sandbox.bare_path()
    with GitHubForge(app_settings(sandbox)) as forge:
        result = promote(forge, 2)
        number = result.pull_request.number
        move_main(sandbox)
        assert forge.wait_mergeable(number, timeout=10).mergeable_state == "behind"
        with pytest.raises(ForgeMergeBlockedError) as blocked:
            forge.merge(number, expected_head_sha=result.commit_sha)
        assert blocked.value.kind is MergeBlock.BEHIND
        updated = forge.update_promotion_branch(number, expected_head_sha=result.commit_sha)
        assert updated.outcome is PromotionOutcome.UPDATED
        assert commits_on(bare, result.branch) == [updated.commit_sha]
        assert file_at(bare, result.branch, MANIFEST) == manifest_text(2)
        assert file_at(bare, result.branch, "notes.md") == "n\n"
        again = forge.update_promotion_branch(number)
        assert again.outcome is PromotionOutcome.UNCHANGED
        merged = forge.merge(number, expected_head_sha=updated.commit_sha)
    assert head_of(bare, "main") == merged.sha


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


def test_update_after_githubs_merge_drops_it(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """Bringing up to date a branch GitHub merged main into leaves the bot's commit alone."""
    sandbox = make_sandbox(protect(required_status_checks={"strict": True, "contexts": []}))
    bare = sandbox.bare_path()
    with GitHubForge(app_settings(sandbox)) as forge:
        result = promote(forge, 2)
        move_main(sandbox)
        sandbox.github("carol").get_repo(sandbox.repo_name).get_pull(
            result.pull_request.number
        ).update_branch()
        updated = forge.update_promotion_branch(result.pull_request.number)
        assert updated.outcome is PromotionOutcome.UPDATED
        assert commits_on(bare, result.branch) == [updated.commit_sha]


def test_a_persons_commit_still_stops_the_update(
    forge: GitHubForge, github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    """Bringing a branch up to date never force-pushes over someone's work."""
    result = promote(forge, 2)
    bare = github_sandbox.bare_path()
    human = push_commit(bare, tmp_path / "c", result.branch, MANIFEST, "by hand\n", who="bob")
    move_main(github_sandbox)
    blocked = forge.update_promotion_branch(result.pull_request.number)
    assert blocked.outcome is PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT
    assert head_of(bare, result.branch) == human


def test_auto_revert_survives_the_fresh_pull_request(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """The rollback opens the revert and merges it at once, while GitHub still computes."""
    promoted = promote(forge, 2)
    forge.merge(promoted.pull_request.number, expected_head_sha=promoted.commit_sha)
    result = forge.open_revert(promoted.pull_request.number, merge=True)
    assert result.merge_sha == head_of(github_sandbox.bare_path(), "main")
    assert file_at(github_sandbox.bare_path(), "main", MANIFEST) == manifest_text(1)


def test_auto_revert_of_a_branch_left_behind_is_brought_up_to_date(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """A revert opened earlier fell behind main; merging it remakes its commit first."""
    sandbox = make_sandbox(protect(required_status_checks={"strict": True, "contexts": []}))
    bare = sandbox.bare_path()
    with GitHubForge(app_settings(sandbox)) as forge:
        promoted = promote(forge, 2)
        forge.merge(promoted.pull_request.number, expected_head_sha=promoted.commit_sha)
        opened = forge.open_revert(promoted.pull_request.number)
        move_main(sandbox)
        merged = forge.open_revert(promoted.pull_request.number, merge=True)
    assert not merged.created
    assert merged.merge_sha == head_of(bare, "main")
    assert merged.pull_request.number == opened.pull_request.number
    assert file_at(bare, "main", MANIFEST) == manifest_text(1)
    assert file_at(bare, "main", "notes.md") == "n\n"
