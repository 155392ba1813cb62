"""`mergeable` and `mergeable_state`, computed in the background as GitHub does.

"When you get, create, or edit a pull request, GitHub creates a merge commit to test
whether the pull request can be automatically merged into the base branch. [...] If the
value is null, then GitHub has started a background job to compute the mergeability."
The sandbox's job takes `timing.mergeability_seconds` from the seed; until it is done
for the pull request's current head and base, `mergeable` is null and `mergeable_state`
is `unknown`. Webhook payloads carry null.
https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
https://docs.github.com/en/rest/guides/using-the-rest-api-to-interact-with-your-git-database#checking-mergeability-of-pull-requests
"""

from __future__ import annotations

import time

from promobot_sandbox.github.protection import (
    merge_blockers,
    non_required_failing,
    required_contexts,
)
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record

DEFAULT_SECONDS = 2.0


def job_seconds(sb: Sandbox) -> float:
    timing = sb.settings().get("timing") or {}
    return float(timing.get("mergeability_seconds") or DEFAULT_SECONDS)


def start_job(sb: Sandbox, pr: Record, head: str, base: str) -> None:
    """Start the background job for (head, base) unless it already runs or ran."""
    job = pr.get("mergeability") or {}
    if job.get("head") == head and job.get("base") == base:
        return
    previous = computed_base(sb, pr)
    pr["mergeability"] = {
        "head": head,
        "base": base,
        "started": time.time(),
        "previous_base": previous,
    }
    sb.store.update("pull", pr)


def is_done(sb: Sandbox, pr: Record, head: str, base: str) -> bool:
    job = pr.get("mergeability") or {}
    return (
        job.get("head") == head
        and job.get("base") == base
        and time.time() >= float(job["started"]) + job_seconds(sb)
    )


def computed_base(sb: Sandbox, pr: Record) -> str | None:
    """The base SHA of the last finished job: a merge onto any other base gets 405
    "Base branch was modified"."""
    job = pr.get("mergeability") or {}
    if not job:
        return None
    if time.time() >= float(job["started"]) + job_seconds(sb):
        return str(job["base"])
    previous = job.get("previous_base")
    return None if previous is None else str(previous)


def mergeable_state(
    sb: Sandbox, repo: Record, pr: Record, head: str, base: str, clean: bool
) -> str:
    """dirty | draft | blocked | behind | unstable | clean, once the job is done.
    https://docs.github.com/en/graphql/reference/enums#mergestatestatus"""
    if not clean:
        return "dirty"
    if pr.get("draft"):
        return "draft"
    blockers = merge_blockers(sb, repo, pr, head, base)
    if any(b.kind != "behind" for b in blockers):
        return "blocked"
    if blockers:
        return "behind"
    if non_required_failing(sb, repo, head, required_contexts(repo, pr["base_ref"])):
        return "unstable"
    return "clean"
