"""The revert pull request of a merged promotion, built with the Git Data API.

Its one commit, on top of the default branch, gives every file the merged pull
request changed the content it had in the merge's parent: what `git revert`
does for a squash merge. A file changed again on the default branch since the
merge is a conflict, as it would be for `git revert`, and is left to a person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.domain.layout import revert_branch
from bot.errors import ForgeError
from bot.forge.base import (
    ForgeHumanCommitError,
    ForgeMergeBlockedError,
    ForgeNothingToChangeError,
    ForgeRevertConflictError,
    MergeBlock,
    MergeResult,
    PromotionOutcome,
    PromotionPR,
    PullRequestInfo,
    RevertResult,
)
from bot.forge.branches import find_bot_commit
from bot.forge.convert import pull_request_info
from bot.forge.markers import bot_section, commit_message
from bot.forge.session import RepoSession

MergeRevert = Callable[[PullRequestInfo], MergeResult]


class Merge(Protocol):
    """`Forge.merge`."""

    def __call__(
        self, number: int, *, expected_head_sha: str, title: str | None = None
    ) -> MergeResult: ...


class Update(Protocol):
    """`Forge.update_promotion_branch`."""

    def __call__(self, number: int, *, expected_head_sha: str | None = None) -> PromotionPR: ...


TreeIndex = dict[str, tuple[str, str]]


def tree_index(session: RepoSession, tree_sha: str) -> TreeIndex:
    """path -> (mode, blob SHA) of every file in a tree."""
    data = session.api("GET", f"/git/trees/{tree_sha}", params={"recursive": "1"})
    if data.get("truncated"):
        raise ForgeError(
            f"tree {tree_sha[:7]} is too large for GitHub to list at once",
            hint="revert the merge with `git revert` in a clone and push it",
        )
    return {
        str(item["path"]): (str(item["mode"]), str(item["sha"]))
        for item in data["tree"]
        if item["type"] == "blob"
    }


def revert_entries(
    paths: Sequence[str], before: TreeIndex, merged: TreeIndex, now: TreeIndex
) -> list[dict[str, Any]]:
    """Tree entries restoring `before` for `paths`; a conflict if one moved on since the merge."""
    conflicts = [path for path in paths if now.get(path) != merged.get(path)]
    if conflicts:
        raise ForgeRevertConflictError(
            f"cannot revert: {', '.join(conflicts)} changed again after the merge",
            hint="revert by hand with `git revert` and resolve the conflict",
        )
    entries: list[dict[str, Any]] = []
    for path in paths:
        old = before.get(path)
        mode, sha = old if old is not None else (merged[path][0], None)
        entries.append({"path": path, "mode": mode, "type": "blob", "sha": sha})
    return entries


def open_revert(
    session: RepoSession,
    number: int,
    *,
    labels: Sequence[str],
    body: str,
    merge: MergeRevert | None,
) -> RevertResult:
    """See `Forge.open_revert`."""
    branch = revert_branch(number)
    existing = session.find_open_pull(branch)
    if existing is not None:
        info = pull_request_info(existing)
        merged_sha = merge(info).sha if merge is not None else None
        return RevertResult(pull_request=info, created=False, merge_sha=merged_sha)
    original = session.repo.get_pull(number)
    if not original.merged:
        raise ForgeError(
            f"pull request #{number} is not merged; there is nothing to revert",
            hint="close it instead, or name the merged promotion",
        )
    merge_commit = str(original.merge_commit_sha)
    files = list(original.get_files())
    paths = sorted(
        {f.filename for f in files} | {f.previous_filename for f in files if f.previous_filename}
    )
    commit = _revert_commit(session, number, merge_commit, paths, str(original.title))
    _point_branch(session, branch, commit)
    pull = session.repo.create_pull(
        base=session.default_branch_name(),
        head=branch,
        title=f'Revert "{original.title}"',
        body=bot_section(body or f"Reverts #{number} (merge commit {merge_commit[:7]})."),
    )
    wanted = tuple(dict.fromkeys(labels))
    if wanted:
        pull.add_to_labels(*wanted)
    info = pull_request_info(pull, labels=wanted)
    merged_sha = merge(info).sha if merge is not None else None
    return RevertResult(pull_request=info, created=True, merge_sha=merged_sha)


def _revert_commit(
    session: RepoSession, number: int, merge_commit: str, paths: Sequence[str], title: str
) -> str:
    merged = session.get_commit(merge_commit)
    parent = session.get_commit(str(merged["parents"][0]["sha"]))
    head_sha, head_tree = session.branch_commit(session.default_branch_name())
    merged_tree = str(merged["tree"]["sha"])
    merged_files = tree_index(session, merged_tree)
    now = merged_files if head_tree == merged_tree else tree_index(session, head_tree)
    before = tree_index(session, str(parent["tree"]["sha"]))
    entries = revert_entries(paths, before, merged_files, now)
    tree = session.create_tree(head_tree, entries)
    if tree == head_tree:
        raise already_reverted(number)
    return session.create_commit(revert_message(title, number, merge_commit), tree, head_sha)


def already_reverted(number: int) -> ForgeNothingToChangeError:
    """The error when the default branch already holds the files as before #`number`."""
    return ForgeNothingToChangeError(
        f"the default branch already has the files #{number} changed as they were before it",
        hint="it looks reverted already; nothing to do",
    )


def revert_message(title: str, number: int, merge_commit: str) -> str:
    """The message of the commit that reverts #`number` (merged as `merge_commit`)."""
    return commit_message(
        f'Revert "{title}"',
        revert_branch(number),
        merge_commit,
        body=f"This reverts commit {merge_commit}, the merge of #{number}.",
    )


def _point_branch(session: RepoSession, branch: str, commit: str) -> None:
    """Create the revert branch, or move a leftover one of an interrupted run."""
    if session.create_branch(branch, commit):
        return
    head = session.branch_head(branch)
    if head is None:
        session.create_branch(branch, commit)
        return
    if find_bot_commit(session, head, branch) is None:
        raise ForgeHumanCommitError(
            f"branch {branch} exists with a commit promobot did not make",
            hint=f"delete {branch} or open its pull request by hand",
        )
    session.move_branch(branch, commit)


def merge_revert(pull: PullRequestInfo, *, merge: Merge, update: Update) -> MergeResult:
    """Merge the revert; when the default branch moved since it was made and the branch
    must be up to date, make its commit again on top and merge that."""
    try:
        return merge(pull.number, expected_head_sha=pull.head_sha, title=pull.title)
    except ForgeMergeBlockedError as blocked:
        if blocked.kind is not MergeBlock.BEHIND:
            raise
    updated = update(pull.number, expected_head_sha=pull.head_sha)
    if updated.outcome is not PromotionOutcome.UPDATED:
        raise ForgeError(
            f"#{pull.number} is behind its base and could not be brought up to date: "
            f"{updated.detail}",
            hint="update the branch by hand and merge it",
        )
    return merge(pull.number, expected_head_sha=updated.commit_sha, title=pull.title)
