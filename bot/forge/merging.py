"""Merging as GitHub does it: mergeability computed in the background, and 405s that
mean either "try again in a moment" or "not until something changes".

`mergeable` is null while GitHub computes it after the pull request, its head or its
base changed; a merge meanwhile may be refused with 405 "Base branch was modified.
Review and try the merge again.", which is worth retrying. Branch protection, rulesets
and merge queues refuse with 405 too, in their own words: those are blockers.
https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request
"""

from __future__ import annotations

import time
from collections.abc import Callable

from github import GithubException
from github.PullRequest import PullRequest

from bot.forge.base import (
    ForgeHeadMovedError,
    ForgeMergeBlockedError,
    ForgeMergePendingError,
    ForgeNotMergeableError,
    MergeBlock,
    MergeMethod,
    MergeResult,
)
from bot.forge.convert import mergeable_of
from bot.forge.session import RepoSession, github_message, optional

FIRST_POLL_SECONDS = 0.1
LONGEST_POLL_SECONDS = 2.0
RULESET_PREFIX = "repository rule violations found"
TRANSIENT = ("base branch was modified",)
# GitHub's 405 wordings, first match wins.
BLOCKS: tuple[tuple[str, MergeBlock], ...] = (
    ("merge queue", MergeBlock.MERGE_QUEUE),
    ("approving review", MergeBlock.REVIEWS),
    ("review is required", MergeBlock.REVIEWS),
    ("reviews are required", MergeBlock.REVIEWS),
    ("changes were requested", MergeBlock.REVIEWS),
    ("require approval", MergeBlock.REVIEWS),
    ("code owner", MergeBlock.REVIEWS),
    ("status check", MergeBlock.CHECKS),
    ("not up to date", MergeBlock.BEHIND),
    ("verified signatures", MergeBlock.SIGNATURES),
    ("are not allowed on this repository", MergeBlock.METHOD),
    ("must not contain merge commits", MergeBlock.METHOD),
)
HINTS = {
    MergeBlock.REVIEWS: "an approving review by someone with write access is required by "
    "the branch protection or a ruleset of {base}",
    MergeBlock.CHECKS: "the checks {base} requires must pass on the head first; pin "
    "promobot/policy to the App in the branch protection",
    MergeBlock.BEHIND: "{base} requires branches to be up to date: promobot makes its commit "
    "again on the new base (update_promotion_branch)",
    MergeBlock.SIGNATURES: "{base} requires signed commits: sign in as the GitHub App (its "
    "commits are signed) and sign commits pushed by hand",
    MergeBlock.MERGE_QUEUE: "{base} merges through a merge queue: add the pull request to it",
    MergeBlock.METHOD: "allow squash merging in the repository settings, or merge by hand",
    MergeBlock.CONFLICT: "the pull request conflicts with {base}: resolve it, or let the next "
    "challenger replace the branch",
    MergeBlock.OTHER: "see the branch protection rules and rulesets of {base}",
}

Sleep = Callable[[float], None]


def classify(reason: str) -> MergeBlock:
    """Which kind of rule a 405's message speaks of."""
    text = reason.lower().removeprefix(RULESET_PREFIX).strip()
    return next((kind for words, kind in BLOCKS if words in text), MergeBlock.OTHER)


def is_transient(reason: str) -> bool:
    """GitHub's "try again" 405, seen while mergeability is being computed."""
    return any(words in reason.lower() for words in TRANSIENT)


def wait_mergeable(
    session: RepoSession, number: int, timeout: float, sleep: Sleep = time.sleep
) -> PullRequest:
    """The pull request once `mergeable` is known (or it is closed), polling with backoff;
    as last read when `timeout` runs out. Reading it is what starts GitHub's computation."""
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL_SECONDS
    while True:
        pull = session.repo.get_pull(number)
        remaining = deadline - time.monotonic()
        if mergeable_of(pull) is not None or pull.state != "open" or remaining <= 0:
            return pull
        sleep(min(delay, remaining))
        delay = min(delay * 2, LONGEST_POLL_SECONDS)


def merge(
    session: RepoSession,
    number: int,
    *,
    expected_head_sha: str,
    method: MergeMethod,
    title: str | None,
    message: str | None,
    sleep: Sleep = time.sleep,
) -> MergeResult:
    """See `Forge.merge`."""
    settings = session.settings
    delay = settings.merge_backoff_seconds
    last: GithubException | None = None
    for _ in range(settings.merge_attempts):
        pull = wait_mergeable(session, number, settings.mergeability_timeout_seconds, sleep)
        if pull.merged and pull.head.sha == expected_head_sha:
            return MergeResult(sha=str(pull.merge_commit_sha), message="already merged")
        _check_before(pull, expected_head_sha)
        try:
            status = pull.merge(
                commit_message=optional(message),
                commit_title=optional(title),
                merge_method=method.value,
                sha=expected_head_sha,
            )
        except GithubException as error:
            done = _refused(session, pull, expected_head_sha, error)
            if done is not None:
                return done
            last = error
            sleep(delay)
            delay *= 2
            continue
        return MergeResult(sha=str(status.sha), message=str(status.message))
    raise ForgeMergePendingError(
        f"#{number} was not merged: GitHub kept answering "
        f"{github_message(last) if last else 'that mergeability is unknown'}",
        hint="GitHub is still computing whether it can merge; the merge is safe to repeat",
    ) from last


def _check_before(pull: PullRequest, expected: str) -> None:
    """What the pull request itself says: merged, closed, moved or conflicting."""
    number = pull.number
    if pull.merged:
        raise ForgeNotMergeableError(
            f"#{number} is merged already, at {pull.head.sha[:7]} rather than {expected[:7]}",
            hint="nothing to merge",
        )
    if pull.state != "open":
        raise ForgeNotMergeableError(
            f"#{number} is not mergeable: it is closed", hint="reopen it, or open a new one"
        )
    if pull.head.sha != expected:
        raise ForgeHeadMovedError(
            f"#{number} was not merged: its head moved to {pull.head.sha[:7]} after "
            f"{expected[:7]} was checked",
            hint="recompute merge readiness for the new head",
        )
    if mergeable_of(pull) is False and pull.mergeable_state == "dirty":
        raise _blocked(pull, "Pull Request is not mergeable: it conflicts", MergeBlock.CONFLICT)


def _refused(
    session: RepoSession, pull: PullRequest, expected: str, error: GithubException
) -> MergeResult | None:
    """The result when the refusal hides a merge that went through; None to try again;
    otherwise raises what the refusal means."""
    number, reason = pull.number, github_message(error)
    if error.status == 409:
        raise ForgeHeadMovedError(
            f"#{number} was not merged: its head moved after {expected[:7]} was checked ({reason})",
            hint="recompute merge readiness for the new head",
        ) from error
    if error.status != 405:
        raise error
    if is_transient(reason):
        return None
    current = session.repo.get_pull(number)
    if current.merged and current.head.sha == expected:
        # A retried merge whose first attempt went through.
        return MergeResult(sha=str(current.merge_commit_sha), message="already merged")
    if current.draft or current.state != "open":
        raise ForgeNotMergeableError(
            f"#{number} is not mergeable: {reason}",
            hint="leave draft, or reopen the pull request",
        ) from error
    if "not mergeable" in reason.lower():
        if mergeable_of(current) is None:
            return None
        raise _blocked(current, reason, MergeBlock.CONFLICT) from error
    raise _blocked(current, reason, classify(reason)) from error


def _blocked(pull: PullRequest, reason: str, kind: MergeBlock) -> ForgeMergeBlockedError:
    return ForgeMergeBlockedError(
        f"#{pull.number} is not mergeable: {reason}",
        reason=reason,
        kind=kind,
        hint=HINTS[kind].format(base=pull.base.ref),
    )
