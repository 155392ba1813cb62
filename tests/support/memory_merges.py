"""The in-memory forge's branch work: updating a promotion branch, bringing it up to date,
merging with the head-SHA guard, and reverts. Each follows what `GitHubForge` does
against the sandbox (bot/forge/promotion.py, merging.py, revert.py), on `MemoryGit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.domain.layout import revert_branch
from bot.errors import ForgeError
from bot.forge.base import (
    ForgeHeadMovedError,
    ForgeHumanCommitError,
    ForgeMergeBlockedError,
    ForgeNotMergeableError,
    ForgeRevertConflictError,
    MergeBlock,
    MergeMethod,
    MergeResult,
    PromotionOutcome,
    PromotionPR,
    PullState,
    RevertResult,
)
from bot.forge.markers import (
    CONTENT_TRAILER,
    HUMAN_COMMIT_MARKER,
    CommitFacts,
    FileChange,
    HumanCommitNotice,
    is_bot_commit,
    is_github_merge,
    replace_bot_section,
    trailer,
)
from bot.forge.promotion import PromotionChange, already_promoted, reviewers_to_request
from bot.forge.revert import already_reverted, revert_message
from tests.support.memory_git import Commit, apply_changes, blob_sha, changed_paths, tree_sha
from tests.support.memory_github import WEB_FLOW, PullRecord

if TYPE_CHECKING:
    from tests.support.memory_forge import MemoryForge

MAX_GITHUB_MERGES = 10
MERGED = "Pull Request successfully merged"


def facts(forge: MemoryForge, commit: Commit) -> CommitFacts:
    """A commit as GitHub's REST API shows it, with its changes against its first parent."""
    parent = forge.git.commits[commit.parents[0]].files if commit.parents else {}
    changes = changed_paths(parent, commit.files)
    return CommitFacts(
        sha=commit.sha,
        message=commit.message,
        parents=commit.parents,
        author_login=commit.author.login,
        committer_login=commit.committer.login,
        author_email=commit.author.email,
        committer_email=commit.committer.email,
        verified=commit.verified,
        files=tuple(
            FileChange(path, "removed" if text is None else "modified", _blob(text))
            for path, text in changes.items()
        ),
    )


def _blob(text: str | None) -> str | None:
    return None if text is None else blob_sha(text)


def find_bot_commit(forge: MemoryForge, head_sha: str, branch: str) -> Commit | None:
    """The bot's commit for `branch` at `head_sha` or under GitHub's "Update branch" merges;
    None when a person's commit is in the way."""
    head = forge.git.commits[head_sha]
    current = head
    for _ in range(MAX_GITHUB_MERGES):
        if not is_github_merge(facts(forge, current)):
            break
        current = forge.git.commits[current.parents[0]]
    own = is_bot_commit(
        facts(forge, current),
        branch=branch,
        bot_login=forge.bot_login,
        bot_email=forge._identity[1],
    )
    if not own:
        return None
    if current is not head:
        brought = forge.git.comparison(head.parents[1], head.sha)
        bot_changes = {(f.path, f.blob_sha) for f in facts(forge, current).files}
        if {(path, _blob(text)) for path, text in brought.items()} != bot_changes:
            return None
    return current


def update_promotion(
    forge: MemoryForge, change: PromotionChange, commit: str, digest: str, action: str
) -> PromotionPR:
    """The branch exists: update its pull request, reopen it afresh, or stop for a person."""
    github, branches = forge.github, forge.git.branches
    pull = forge.find_open_pull(change.branch)
    head = github.head_of(pull) if pull is not None else branches[change.branch]
    closed_heads = {
        p.head_sha
        for p in github.pulls.values()
        if p.state is PullState.CLOSED and p.head_ref == change.branch
    }
    if pull is None and head in closed_heads:
        branches[change.branch] = commit
        return forge._open_pull(change, commit, action)
    found = find_bot_commit(forge, head, change.branch)
    if found is None:
        return stop_for_human_commit(forge, change.branch, pull, head)
    unchanged = trailer(found.message, CONTENT_TRAILER) == digest
    if not unchanged:
        branches[change.branch] = commit
    if pull is None:
        return forge._open_pull(change, head if unchanged else commit, action)
    return refresh_pull(forge, change, pull, head if unchanged else commit, unchanged, action)


def refresh_pull(
    forge: MemoryForge,
    change: PromotionChange,
    pull: PullRecord,
    commit: str,
    unchanged: bool,
    action: str,
) -> PromotionPR:
    """Title, the bot's part of the body, labels, review requests and the draft flag."""
    pull.body = replace_bot_section(pull.body, change.body)
    pull.title = change.title
    forge._add_labels(pull, change.labels)
    reviewers: Sequence[str] = reviewers_to_request(change, forge.bot_login)
    teams: Sequence[str] = change.team_reviewers
    if unchanged:
        reviewers, teams = never_asked(forge, pull, reviewers, teams)
    problems = forge.request_reviews(pull, reviewers, teams)
    forge.flip_draft(pull, change.draft, action)
    forge.github.start_mergeability(pull)
    outcome = PromotionOutcome.UNCHANGED if unchanged else PromotionOutcome.UPDATED
    what = "kept" if unchanged else "pushed"
    return PromotionPR(
        outcome=outcome,
        pull_request=forge.github.pull_info(pull),
        branch=change.branch,
        commit_sha=commit,
        detail=f"updated #{pull.number}: {what} {commit[:7]} on {change.branch}",
        review_problems=problems,
    )


def never_asked(
    forge: MemoryForge, pull: PullRecord, reviewers: Sequence[str], teams: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Reviewers an interrupted run did not get to request: neither pending nor reviewed."""
    missing = [login for login in reviewers if login not in pull.requested_reviewers]
    missing_teams = [slug for slug in teams if slug not in pull.requested_teams]
    if not missing and not missing_teams:
        return [], []
    reviewed = {review.user for review in forge.github.reviews.get(pull.number, [])}
    if reviewed:
        return [login for login in missing if login not in reviewed], []
    return missing, missing_teams


def stop_for_human_commit(
    forge: MemoryForge, name: str, pull: PullRecord | None, head: str
) -> PromotionPR:
    notice = HumanCommitNotice(name, head)
    if pull is None:
        raise ForgeHumanCommitError(notice.why, hint=notice.hint)
    forge.upsert(pull.number, HUMAN_COMMIT_MARKER, notice.comment)
    return PromotionPR(
        outcome=PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT,
        pull_request=forge.github.pull_info(pull),
        branch=name,
        commit_sha=head,
        detail=notice.detail(pull.number),
    )


def update_branch(forge: MemoryForge, pull: PullRecord, expected: str | None) -> PromotionPR:
    """See `Forge.update_promotion_branch`."""
    github, git = forge.github, forge.git
    branch, head = pull.head_ref, github.head_of(pull)
    number = pull.number
    if expected is not None and head != expected:
        raise ForgeHeadMovedError(
            f"#{number} was not brought up to date: its head moved to {head[:7]} after "
            f"{expected[:7]} was checked",
            hint="recompute merge readiness for the new head",
        )
    found = find_bot_commit(forge, head, branch)
    if found is None:
        return stop_for_human_commit(forge, branch, pull, head)
    base = git.commits[git.branches[pull.base_ref]]
    if found.parents == (base.sha,) and found.sha == head:
        return PromotionPR(
            outcome=PromotionOutcome.UNCHANGED,
            pull_request=github.pull_info(pull),
            branch=branch,
            commit_sha=head,
            detail=f"#{number} is up to date with {pull.base_ref}",
        )
    parent = git.commits[found.parents[0]].files
    files = apply_changes(base.files, changed_paths(parent, found.files))
    if tree_sha(files) == base.tree:
        raise already_promoted(pull.base_ref, number)
    commit = forge._commit(files, base.sha, found.message)
    git.branches[branch] = commit.sha
    return PromotionPR(
        outcome=PromotionOutcome.UPDATED,
        pull_request=github.pull_info(pull),
        branch=branch,
        commit_sha=commit.sha,
        detail=f"#{number}: made its commit again on {pull.base_ref} at {base.sha[:7]}",
    )


def merge(
    forge: MemoryForge,
    pull: PullRecord,
    expected: str,
    method: MergeMethod,
    title: str | None,
    message: str | None,
) -> MergeResult:
    """See `Forge.merge`: GitHub's answers in the order the adapter meets them."""
    github = forge.github
    github.finish_mergeability(pull)
    head, number = github.head_of(pull), pull.number
    if pull.merged and head == expected:
        return MergeResult(sha=str(pull.merge_commit_sha), message="already merged")
    if pull.merged:
        raise ForgeNotMergeableError(
            f"#{number} is merged already, at {head[:7]} rather than {expected[:7]}",
            hint="nothing to merge",
        )
    if pull.state is not PullState.OPEN:
        raise ForgeNotMergeableError(
            f"#{number} is not mergeable: it is closed", hint="reopen it, or open a new one"
        )
    if head != expected:
        raise ForgeHeadMovedError(
            f"#{number} was not merged: its head moved to {head[:7]} after "
            f"{expected[:7]} was checked",
            hint="recompute merge readiness for the new head",
        )
    if github.mergeability(pull) == (False, "dirty"):
        raise forge.blocked(
            pull, "Pull Request is not mergeable: it conflicts", MergeBlock.CONFLICT
        )
    if pull.draft:
        raise ForgeNotMergeableError(
            f"#{number} is not mergeable: Draft pull requests cannot be merged.",
            hint="leave draft, or reopen the pull request",
        )
    blockers = github.merge_blockers(pull)
    if blockers:
        raise forge.blocked(pull, blockers[0][1])
    base = github.base_of(pull)
    sha = _merge_commit(forge, pull, method, title, message, base=base, head=head)
    forge.git.branches[pull.base_ref] = sha
    pull.head_sha, pull.base_sha = head, base
    pull.state, pull.merged, pull.merge_commit_sha = PullState.CLOSED, True, sha
    pull.merged_at = forge.github.clock()
    return MergeResult(sha=sha, message=MERGED)


def _merge_commit(
    forge: MemoryForge,
    pull: PullRecord,
    method: MergeMethod,
    title: str | None,
    message: str | None,
    *,
    base: str,
    head: str,
) -> str:
    git, github = forge.git, forge.github
    fork = git.merge_base(base, head) or base
    added = git.added_commits(fork, head)
    if method is MergeMethod.REBASE:
        tip = base
        for sha in reversed(added):
            commit = git.commits[sha]
            if len(commit.parents) > 1:
                continue
            files = apply_changes(
                git.commits[tip].files,
                changed_paths(git.commits[commit.parents[0]].files, commit.files),
            )
            tip = git.commit(files, (tip,), commit.message, commit.author, WEB_FLOW).sha
        return tip
    merged = git.merged_files(base, head)
    if merged is None:
        raise forge.blocked(pull, "Pull Request is not mergeable", MergeBlock.CONFLICT)
    merger = github.person(forge.bot_login)
    if method is MergeMethod.SQUASH:
        subject = title or f"{pull.title} (#{pull.number})"
        default = "\n\n".join(f"* {git.commits[s].message.strip()}" for s in reversed(added))
        text = _join(subject, default if message is None else message)
        author = github.person(pull.author)
        return git.commit(merged, (base,), text, author, WEB_FLOW, verified=True).sha
    subject = title or f"Merge pull request #{pull.number} from {github.owner}/{pull.head_ref}"
    text = _join(subject, pull.title if message is None else message)
    return git.commit(merged, (base, head), text, merger, WEB_FLOW, verified=True).sha


def _join(title: str, message: str | None) -> str:
    return f"{title}\n\n{message}\n" if message else f"{title}\n"


def open_revert(
    forge: MemoryForge, number: int, labels: tuple[str, ...], body: str, merge: bool, action: str
) -> RevertResult:
    """See `Forge.open_revert`."""
    github = forge.github
    branch = revert_branch(number)
    existing = forge.find_open_pull(branch)
    if existing is not None:
        info = github.pull_info(existing)
        merged = merge_revert(forge, existing).sha if merge else None
        return RevertResult(pull_request=info, created=False, merge_sha=merged)
    original = forge._pull(number, action)
    if not original.merged:
        raise ForgeError(
            f"pull request #{number} is not merged; there is nothing to revert",
            hint="close it instead, or name the merged promotion",
        )
    merge_commit = str(original.merge_commit_sha)
    paths = sorted(github.changed_files(original))
    commit = _revert_commit(forge, number, merge_commit, paths, original.title)
    _point_branch(forge, branch, commit)
    text = body or f"Reverts #{number} (merge commit {merge_commit[:7]})."
    pull = forge.create_pull(branch, f'Revert "{original.title}"', text, False, action)
    github.start_mergeability(pull)
    forge._add_labels(pull, labels)
    info = github.pull_info(pull)
    merged = merge_revert(forge, pull).sha if merge else None
    return RevertResult(pull_request=info, created=True, merge_sha=merged)


def _revert_commit(
    forge: MemoryForge, number: int, merge_commit: str, paths: Sequence[str], title: str
) -> str:
    git = forge.git
    merged = git.commits[merge_commit]
    before = git.commits[merged.parents[0]].files
    head = git.commits[git.branches[forge.github.default_branch]]
    conflicts = [path for path in paths if head.files.get(path) != merged.files.get(path)]
    if conflicts:
        raise ForgeRevertConflictError(
            f"cannot revert: {', '.join(conflicts)} changed again after the merge",
            hint="revert by hand with `git revert` and resolve the conflict",
        )
    files = apply_changes(head.files, {path: before.get(path) for path in paths})
    if tree_sha(files) == head.tree:
        raise already_reverted(number)
    return forge._commit(files, head.sha, revert_message(title, number, merge_commit)).sha


def _point_branch(forge: MemoryForge, branch: str, commit: str) -> None:
    """Create the revert branch, or move a leftover one of an interrupted run."""
    head = forge.git.branches.get(branch)
    if head is not None and find_bot_commit(forge, head, branch) is None:
        raise ForgeHumanCommitError(
            f"branch {branch} exists with a commit promobot did not make",
            hint=f"delete {branch} or open its pull request by hand",
        )
    forge.git.branches[branch] = commit


def merge_revert(forge: MemoryForge, pull: PullRecord) -> MergeResult:
    """Merge the revert; one that fell behind a base that must be up to date is made again
    on top first."""
    head = forge.github.head_of(pull)
    try:
        return forge.merge(pull.number, expected_head_sha=head, title=pull.title)
    except ForgeMergeBlockedError as blocked:
        if blocked.kind is not MergeBlock.BEHIND:
            raise
    updated = forge.update_promotion_branch(pull.number, expected_head_sha=head)
    if updated.outcome is not PromotionOutcome.UPDATED:
        raise ForgeError(
            f"#{pull.number} is behind its base and could not be brought up to date: "
            f"{updated.detail}",
            hint="update the branch by hand and merge it",
        )
    return forge.merge(pull.number, expected_head_sha=updated.commit_sha, title=pull.title)
