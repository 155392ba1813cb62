"""Creating a comment or a deployment once, even when GitHub's answer is lost.

A 5xx or a timeout after a POST does not say whether GitHub created the comment or
the deployment, and GitHub does not deduplicate them, so the transport does not repeat
these POSTs (see `bot.forge.client`). Here, after such a failure, the adapter looks for
what it meant to create (same author, same content, created since the attempt began)
and creates it again only when it is not there.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from github import GithubException
from github.Deployment import Deployment
from github.Issue import Issue
from github.IssueComment import IssueComment
from requests.exceptions import RequestException

from bot.forge.convert import as_utc
from bot.forge.session import RepoSession

T = TypeVar("T")
# GitHub's clock and ours may differ a little.
CLOCK_SKEW = dt.timedelta(seconds=60)


def is_ambiguous(error: Exception) -> bool:
    """A failure after which the creation may or may not have happened."""
    if isinstance(error, GithubException):
        return error.status >= 500
    return isinstance(error, RequestException)


def create_once(
    create: Callable[[], T],
    find: Callable[[dt.datetime], T | None],
    *,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`create()`, and after an ambiguous failure `find(since)` before creating again."""
    since = dt.datetime.now(dt.UTC) - CLOCK_SKEW
    delay = backoff
    for attempt in range(attempts):
        try:
            return create()
        except (GithubException, RequestException) as error:
            if not is_ambiguous(error) or attempt == attempts - 1:
                raise
        sleep(delay)
        delay *= 2
        found = find(since)
        if found is not None:
            return found
    raise AssertionError("unreachable: the last attempt returns or raises")


def create_comment(session: RepoSession, issue: Issue, body: str) -> IssueComment:
    """A new comment by the bot, created once."""

    def find(since: dt.datetime) -> IssueComment | None:
        for comment in issue.get_comments(since=since):
            created = as_utc(comment.created_at)
            if (
                comment.user.login == session.settings.bot_login
                and comment.body == body
                and (created is None or created >= since)
            ):
                return comment
        return None

    return create_once(
        lambda: issue.create_comment(body),
        find,
        attempts=session.settings.retry_total + 1,
        backoff=session.settings.retry_backoff_seconds,
    )


def create_deployment(
    session: RepoSession,
    *,
    ref: str,
    environment: str,
    payload: Mapping[str, Any],
    description: str,
) -> Deployment:
    """A deployment of `ref` to `environment`, created once (no auto-merge, no contexts)."""

    def find(since: dt.datetime) -> Deployment | None:
        for deployment in session.repo.get_deployments(
            ref=ref, task="deploy", environment=environment
        ):
            created = as_utc(deployment.created_at)
            if created is not None and created < since:
                return None
            if (
                deployment.creator is not None
                and deployment.creator.login == session.settings.bot_login
                and deployment.payload == dict(payload)
                and (deployment.description or "") == description
            ):
                return deployment
        return None

    return create_once(
        lambda: session.repo.create_deployment(
            ref=ref,
            task="deploy",
            auto_merge=False,
            required_contexts=[],
            payload=dict(payload),
            environment=environment,
            description=description,
        ),
        find,
        attempts=session.settings.retry_total + 1,
        backoff=session.settings.retry_backoff_seconds,
    )
