"""Issue comments on pull requests: the bot's marked comments are edited, never repeated."""

from __future__ import annotations

from github.Issue import Issue

from bot.forge.base import Comment
from bot.forge.convert import comment_info
from bot.forge.markers import with_marker


def list_comments(issue: Issue) -> list[Comment]:
    """Every comment, oldest first."""
    return [comment_info(comment) for comment in issue.get_comments()]


def upsert_comment(issue: Issue, *, marker: str, body: str, bot_login: str) -> Comment:
    """Edit the bot's comment carrying `marker`, or create it.

    Searching before writing is what makes a repeated call (a redelivered
    event, a retry after a crash) leave exactly one comment.
    """
    text = with_marker(marker, body)
    for comment in issue.get_comments():
        if comment.user.login == bot_login and marker in (comment.body or ""):
            if comment.body != text:
                comment.edit(text)
            return comment_info(comment).model_copy(update={"body": text})
    return comment_info(issue.create_comment(text))
