"""PyGithub objects to the forge's value types; nothing of PyGithub leaks past here."""

from __future__ import annotations

import datetime as dt

from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.PullRequestReview import PullRequestReview

from bot.forge.base import Comment, PullRequestInfo, PullState, Review


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Timestamps from PyGithub are aware; naive ones are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def mergeable_of(pull: PullRequest) -> bool | None:
    """`mergeable`, which PyGithub types as a bool but GitHub leaves null while computing."""
    value: object = pull.mergeable
    return value if isinstance(value, bool) else None


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
        merged_at=as_utc(pull.merged_at),
        head_ref=pull.head.ref,
        head_sha=pull.head.sha,
        base_ref=pull.base.ref,
        author=pull.user.login,
        labels=labels if labels is not None else current_labels,
        mergeable=mergeable_of(pull),
        mergeable_state=pull.mergeable_state,
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
