"""The bot's text in bodies and commits: replaced in place, found again, told from people's."""

from __future__ import annotations

import pytest

from bot.domain.layout import promotion_branch, promotion_of, revert_branch
from bot.forge.markers import (
    BODY_BEGIN,
    BODY_END,
    BRANCH_TRAILER,
    bot_section,
    commit_message,
    content_digest,
    is_bot_commit,
    replace_bot_section,
    trailer,
    with_marker,
)

BOT_EMAIL = "promobot@users.noreply.github.com"
BRANCH = "promobot/production/churn"


def test_new_body_is_only_the_bot_section() -> None:
    """A fresh pull request body is the report between the markers."""
    assert replace_bot_section(None, "report v7") == f"{BODY_BEGIN}\nreport v7\n{BODY_END}"


def test_update_keeps_human_text_around_the_markers() -> None:
    """Reviewers write notes above and below the report; an update must not erase them."""
    body = f"Please check latency.\n\n{bot_section('report v7')}\n\nThanks!"
    updated = replace_bot_section(body, "report v8")
    assert updated == f"Please check latency.\n\n{bot_section('report v8')}\n\nThanks!"


def test_update_is_idempotent() -> None:
    """Replaying the same update leaves the body as it was (no growing body)."""
    once = replace_bot_section(f"note\n{bot_section('a')}", "b")
    assert replace_bot_section(once, "b") == once


def test_body_without_markers_gets_the_section_appended() -> None:
    """A person deleted the markers: keep their text, add the report after it."""
    updated = replace_bot_section("hand-written body", "report")
    assert updated.startswith("hand-written body\n\n")
    assert updated.endswith(bot_section("report"))


def test_comment_marker_is_added_once() -> None:
    """The marker is how the bot finds its comment again."""
    marked = with_marker("<!-- m -->", "hello")
    assert marked == "<!-- m -->\nhello"
    assert with_marker("<!-- m -->", marked) == marked


def test_trailers_round_trip() -> None:
    """Commit trailers carry the branch and the content digest."""
    digest = content_digest("a.yaml", "x: 1\n")
    message = commit_message("Promote churn v8", BRANCH, digest, body="why")
    assert trailer(message, BRANCH_TRAILER) == BRANCH
    assert trailer(message, "Promobot-Content") == digest
    assert trailer("no trailers", BRANCH_TRAILER) is None


def test_digest_depends_on_path_and_text() -> None:
    """Same text at another path is another change."""
    assert content_digest("a", "x") != content_digest("b", "x")
    assert content_digest("a", "x") != content_digest("a", "y")


@pytest.mark.parametrize(
    ("email", "parents", "branch", "expected"),
    [
        (BOT_EMAIL, 1, BRANCH, True),
        ("PROMOBOT@users.noreply.github.com", 1, BRANCH, True),
        ("alice@example.com", 1, BRANCH, False),
        (BOT_EMAIL, 2, BRANCH, False),
        (BOT_EMAIL, 1, "promobot/staging/churn", False),
        (None, 1, BRANCH, False),
    ],
)
def test_bot_commit_detection(email: str | None, parents: int, branch: str, expected: bool) -> None:
    """Only the bot's single commit for this branch may be force-replaced."""
    message = commit_message("Promote", branch, "d")
    result = is_bot_commit(
        message=message,
        committer_email=email,
        parent_count=parents,
        branch=BRANCH,
        bot_email=BOT_EMAIL,
    )
    assert result is expected


@pytest.mark.parametrize(
    ("head_ref", "expected"),
    [
        ("promobot/production/churn", ("churn", "production")),
        (promotion_branch("fraud", "staging"), ("fraud", "staging")),
        (revert_branch(12), None),
        ("promobot/production", None),
        ("promobot/a/b/c", None),
        ("feature/x", None),
    ],
)
def test_promotion_of_branch(head_ref: str, expected: tuple[str, str] | None) -> None:
    """Workflows map an open pull request back to its (model, environment)."""
    assert promotion_of(head_ref) == expected
