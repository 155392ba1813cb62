"""PyGithub objects to the forge's value types; nothing of PyGithub leaks past here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.PullRequestReview import PullRequestReview

from bot.forge.base import (
    CheckRunInfo,
    ChecksSnapshot,
    Comment,
    CommitState,
    PullRequestInfo,
    PullState,
    Review,
    StatusInfo,
)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Timestamps from PyGithub are aware; naive ones are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def pull_request_info(
    pull: PullRequest,
    *,
    files: tuple[str, ...] | None = None,
    labels: tuple[str, ...] | None = None,
    reviewers: tuple[str, ...] = (),
    teams: tuple[str, ...] = (),
    body: str | None = None,
) -> PullRequestInfo:
    """The pull request as a value; the keywords add what the adapter changed since reading it."""
    current_labels = tuple(label.name for label in pull.labels)
    current_reviewers = tuple(user.login for user in pull.requested_reviewers)
    current_teams = tuple(team.slug for team in pull.requested_teams)
    return PullRequestInfo(
        number=pull.number,
        url=pull.html_url,
        title=pull.title,
        body=body if body is not None else pull.body or "",
        state=PullState(pull.state),
        draft=bool(pull.draft),
        merged=bool(pull.merged),
        merge_commit_sha=pull.merge_commit_sha,
        head_ref=pull.head.ref,
        head_sha=pull.head.sha,
        base_ref=pull.base.ref,
        author=pull.user.login,
        labels=labels if labels is not None else current_labels,
        mergeable=pull.mergeable,
        requested_reviewers=tuple(dict.fromkeys((*current_reviewers, *reviewers))),
        requested_teams=tuple(dict.fromkeys((*current_teams, *teams))),
        files=files,
    )


def review_info(review: PullRequestReview) -> Review:
    """A submitted review."""
    return Review(
        id=review.id,
        user=review.user.login if review.user is not None else "ghost",
        state=review.state,
        commit_id=review.commit_id,
        submitted_at=as_utc(review.submitted_at),
    )


def comment_info(comment: IssueComment) -> Comment:
    """An issue comment."""
    created = as_utc(comment.created_at)
    assert created is not None
    return Comment(
        id=comment.id,
        user=comment.user.login,
        body=comment.body or "",
        created_at=created,
        updated_at=as_utc(comment.updated_at) or created,
    )


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp from raw JSON."""
    if not isinstance(value, str) or not value:
        return None
    return as_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))


def checks_snapshot(
    sha: str, combined: dict[str, Any], runs: list[dict[str, Any]]
) -> ChecksSnapshot:
    """Combined status JSON and check-run JSON as one snapshot, latest run per name."""
    statuses = tuple(
        StatusInfo(
            context=str(status["context"]),
            state=CommitState(status["state"]),
            description=status.get("description"),
            target_url=status.get("target_url"),
        )
        for status in combined.get("statuses", [])
    )
    latest: dict[str, CheckRunInfo] = {}
    for run in sorted(runs, key=lambda item: int(item["id"])):
        latest[str(run["name"])] = CheckRunInfo(
            id=int(run["id"]),
            name=str(run["name"]),
            status=str(run["status"]),
            conclusion=run.get("conclusion"),
        )
    return ChecksSnapshot(
        sha=sha,
        combined_state=CommitState(combined.get("state", "pending")),
        statuses=statuses,
        check_runs=tuple(latest.values()),
    )
