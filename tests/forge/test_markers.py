"""The bot's text in bodies and commits: replaced in place, found again, told from people's."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.layout import promotion_branch, promotion_of, revert_branch
from bot.forge.markers import (
    BODY_BEGIN,
    BODY_END,
    BRANCH_TRAILER,
    CommitFacts,
    bot_section,
    commit_message,
    content_digest,
    is_bot_commit,
    is_github_merge,
    replace_bot_section,
    trailer,
    with_marker,
)

BOT = "promobot[bot]"
CONFIGURED = "release-bot@example.com"
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


def facts(**overrides: Any) -> CommitFacts:
    """A commit as GitHub shows the bot's App commit, with keyword overrides."""
    values: dict[str, Any] = {
        "sha": "b" * 40,
        "message": commit_message("Promote", BRANCH, "d"),
        "parents": ("a" * 40,),
        "author_login": BOT,
        "committer_login": BOT,
        "author_email": "4243+promobot[bot]@users.noreply.github.com",
        "committer_email": "4243+promobot[bot]@users.noreply.github.com",
        "verified": True,
    }
    values.update(overrides)
    return CommitFacts(**values)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, True),
        ({"author_login": "PROMOBOT[BOT]", "committer_login": "Promobot[bot]"}, True),
        ({"author_login": "alice", "committer_login": "alice"}, False),
        ({"committer_login": "alice"}, False),
        ({"author_login": None, "committer_login": None}, False),
        ({"parents": ("a" * 40, "c" * 40)}, False),
        ({"message": commit_message("Promote", "promobot/staging/churn", "d")}, False),
    ],
)
def test_bot_commit_detection(overrides: dict[str, Any], expected: bool) -> None:
    """Only the bot's single commit for this branch, authored and committed by its account,
    may be force-replaced; a person amending it becomes its committer."""
    assert is_bot_commit(facts(**overrides), branch=BRANCH, bot_login=BOT) is expected


@pytest.mark.parametrize(
    ("login", "email", "expected"),
    [
        (None, CONFIGURED, True),
        (None, CONFIGURED.upper(), True),
        ("bob", CONFIGURED, True),
        (None, "promobot@users.noreply.github.com", False),
        (None, None, False),
    ],
)
def test_configured_identity_is_matched_by_email(
    login: str | None, email: str | None, expected: bool
) -> None:
    """In token mode a configured identity may belong to no GitHub account: its address
    identifies the bot's commits, and the old default address no longer does."""
    commit = facts(
        author_login=login, committer_login=login, author_email=email, committer_email=email
    )
    found = is_bot_commit(commit, branch=BRANCH, bot_login="promobot-bot", bot_email=CONFIGURED)
    assert found is expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"committer_email": "noreply@github.com", "committer_login": "web-flow"}, True),
        ({"committer_email": "noreply@github.com", "committer_login": None}, True),
        ({"committer_email": "noreply@github.com", "verified": False}, False),
        ({"committer_email": "alice@example.com", "committer_login": "alice"}, False),
    ],
)
def test_github_update_branch_merge(overrides: dict[str, Any], expected: bool) -> None:
    """GitHub's "Update branch" merge is signed and committed by GitHub; a person's merge
    claiming GitHub's address is not signed by GitHub."""
    commit = facts(parents=("a" * 40, "c" * 40), author_login="carol", **overrides)
    assert is_github_merge(commit) is expected
    assert not is_bot_commit(commit, branch=BRANCH, bot_login=BOT)


def test_commit_facts_from_githubs_json() -> None:
    """Logins come from GitHub's attribution, the signature from `verification`."""
    data = {
        "sha": "b" * 40,
        "parents": [{"sha": "a" * 40}],
        "author": {"login": BOT},
        "committer": None,
        "commit": {
            "message": "m",
            "author": {"email": "x@example.com"},
            "committer": {"email": "y@example.com"},
            "verification": {"verified": True},
        },
        "files": [
            {"filename": "a.yaml", "status": "modified", "sha": "1" * 40},
            {"filename": "b.yaml", "status": "removed", "sha": "2" * 40},
        ],
    }
    commit = CommitFacts.from_json(data)
    assert (commit.author_login, commit.committer_login) == (BOT, None)
    assert commit.committer_email == "y@example.com"
    assert commit.verified
    assert [(f.path, f.blob_sha) for f in commit.files] == [("a.yaml", "1" * 40), ("b.yaml", None)]


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
