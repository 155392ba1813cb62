"""Rolling a merged promotion back through a revert pull request labelled `rollback`."""

from __future__ import annotations

import pytest

from bot.errors import ForgeError
from bot.forge.base import ForgeRevertConflictError, PromotionPR
from bot.forge.github import GitHubForge
from tests.forge.gitutil import commits_on, file_at, git
from tests.forge.support import MANIFEST, manifest_text, promote
from tests.support.github_sandbox import GitHubSandbox

NEW_FILE = "model-manifests/staging/churn-classifier.yaml"


def merged_promotion(forge: GitHubForge) -> PromotionPR:
    result = promote(forge, 2)
    forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    return result


def test_revert_pull_request_restores_the_parent(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """The revert's one commit gives the manifest its content before the promotion."""
    promoted = merged_promotion(forge)
    result = forge.open_revert(promoted.pull_request.number)
    pull = result.pull_request
    assert result.created
    assert result.merge_sha is None
    assert pull.head_ref == f"promobot/revert/{promoted.pull_request.number}"
    assert pull.labels == ("rollback",)
    assert pull.title.startswith('Revert "Promote churn-classifier v2')
    bare = github_sandbox.bare_path()
    assert commits_on(bare, pull.head_ref) == [pull.head_sha]
    assert file_at(bare, pull.head_ref, MANIFEST) == manifest_text(1)
    assert forge.get_pull_request(pull.number).files == (MANIFEST,)


def test_revert_is_idempotent_and_can_merge(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """`/promobot rollback` twice opens one revert; merging it puts v1 back on main."""
    promoted = merged_promotion(forge)
    first = forge.open_revert(promoted.pull_request.number)
    second = forge.open_revert(promoted.pull_request.number, merge=True)
    assert not second.created
    assert second.pull_request.number == first.pull_request.number
    assert second.merge_sha is not None
    bare = github_sandbox.bare_path()
    assert git("rev-parse", "main", git_dir=bare).strip() == second.merge_sha
    assert file_at(bare, "main", MANIFEST) == manifest_text(1)


def test_revert_deletes_files_the_promotion_added(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A first deployment is rolled back by removing its manifest."""
    added = promote(
        forge, 5, environment="staging", manifest_path=NEW_FILE, manifest_text="model: x\n"
    )
    forge.merge(added.pull_request.number, expected_head_sha=added.commit_sha)
    result = forge.open_revert(added.pull_request.number, merge=True)
    assert result.merge_sha is not None
    listing = git("ls-tree", "-r", "--name-only", "main", git_dir=github_sandbox.bare_path())
    assert NEW_FILE not in listing.split()


def test_revert_refuses_when_the_file_changed_again(forge: GitHubForge) -> None:
    """Another promotion of the same manifest landed since: a blind revert would undo it."""
    promoted = merged_promotion(forge)
    newer = promote(forge, 3)
    forge.merge(newer.pull_request.number, expected_head_sha=newer.commit_sha)
    with pytest.raises(ForgeRevertConflictError, match="changed again"):
        forge.open_revert(promoted.pull_request.number)


def test_revert_of_an_open_pull_request_is_refused(forge: GitHubForge) -> None:
    """Only merged promotions can be rolled back."""
    number = promote(forge, 2).pull_request.number
    with pytest.raises(ForgeError, match="not merged"):
        forge.open_revert(number)
