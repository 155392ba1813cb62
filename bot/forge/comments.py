"""Issue comments on pull requests: the bot's marked comments are edited, never repeated."""

from __future__ import annotations

import datetime as dt

from github.Issue import Issue
from github.IssueComment import IssueComment

from bot.forge.base import Comment
from bot.forge.convert import comment_info
from bot.forge.idempotent import create_once
from bot.forge.markers import with_marker
from bot.forge.session import RepoSession


def list_comments(issue: Issue) -> list[Comment]:
    """Every comment, oldest first."""
    return [comment_info(comment) for comment in issue.get_comments()]


def upsert_comment(session: RepoSession, issue: Issue, *, marker: str, body: str) -> Comment:
    """Edit the bot's comment carrying `marker`, or create it.

    Searching before writing is what makes a repeated call (a redelivered event, a
    retry after a crash, a creation whose answer was lost) leave exactly one comment.
    """
    text = with_marker(marker, body)
    bot_login = session.settings.bot_login

    def find(_since: dt.datetime | None = None) -> IssueComment | None:
        for comment in issue.get_comments():
            if comment.user.login == bot_login and marker in (comment.body or ""):
                return comment
        return None

    existing = find()
    if existing is not None:
        if existing.body != text:
            existing.edit(text)
        return comment_info(existing).model_copy(update={"body": text})
    created = create_once(
        lambda: issue.create_comment(text),
        find,
        attempts=session.settings.retry_total + 1,
        backoff=session.settings.retry_backoff_seconds,
    )
    return comment_info(created).model_copy(update={"body": text})
