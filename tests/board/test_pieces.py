"""The board's small pure parts: column order, links, reasons, the login's way back, access,
the cache and what may be shown of a data path."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.board.access import COOKIE_MAX_AGE_SECONDS, BoardAccess
from bot.board.cache import ReadCache
from bot.board.columns import environment_order
from bot.board.links import Links, repository_web_url, without_credentials
from bot.board.model_page import shown_data_path
from bot.board.records import rollback_reason
from bot.board.routes import safe_next


@pytest.mark.parametrize(
    ("paths", "others", "expected"),
    [
        ([], ["production", "dev"], ("dev", "production")),
        ([("staging", "production")], ["production", "qa"], ("staging", "production", "qa")),
        (
            [("staging", "production"), ("dev", "staging")],
            ["production"],
            ("dev", "staging", "production"),
        ),
        ([("a", "b"), ("b", "a")], [], ("a", "b")),
    ],
)
def test_columns_follow_the_promotion_paths(
    paths: list[tuple[str, ...]], others: list[str], expected: tuple[str, ...]
) -> None:
    """Columns read left to right in the order versions travel; the rest by name."""
    assert environment_order(paths, others) == expected


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com/acme/models"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/acme/models"),
        ("http://127.0.0.1:8000/api/v3/", "http://127.0.0.1:8000/acme/models"),
    ],
)
def test_web_pages_sit_beside_the_api(api: str, web: str) -> None:
    """Links point at GitHub's pages, not its API."""
    assert repository_web_url(api, "acme/models") == web
    links = Links(web)
    assert links.pull(7) == f"{web}/pull/7"
    assert links.commit("abc") == f"{web}/commit/abc"
    assert Links(None).pull(7) is None


def test_credentials_in_a_url_are_never_shown() -> None:
    """A git URL with a token in it is masked before it reaches a page."""
    shown = without_credentials("fetch https://x-access-token:ghs_abc@github.com/a/b failed")
    assert "ghs_abc" not in shown and "https://***@github.com/a/b" in shown


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ('Revert "Promote churn v7 (#12)"\n\nThis reverts commit abcdef1.\n', None),
        (
            'Revert "Promote churn v7 (#12)"\n\nThis reverts commit abcdef1.\n\n'
            "Error rate doubled after the deploy.\n\nSigned-off-by: Bob <bob@example.com>\n",
            "Error rate doubled after the deploy.",
        ),
        (
            'Revert "x"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567, the '
            "merge of #3.\n\nPromobot-Branch: promobot/revert/3\nPromobot-Content: 12ab\n",
            None,
        ),
    ],
)
def test_a_rollback_reason_is_what_the_message_adds(message: str, reason: str | None) -> None:
    """What `git revert` writes itself, and trailers, are not a reason; the rest is."""
    assert rollback_reason(message) == reason


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/models/churn", "/models/churn"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("models", "/"),
    ],
)
def test_the_login_returns_only_to_a_path_of_the_board(given: str, kept: str) -> None:
    """No open redirect through the login form."""
    assert safe_next(given) == kept


def test_access_takes_the_bearer_token_or_the_cookie() -> None:
    """The cookie is not the token, and neither a wrong token nor a wrong cookie passes."""
    access = BoardAccess(SecretStr("s3cret"))
    assert access.allows("Bearer s3cret", None)
    assert access.allows("bearer s3cret", None)
    assert not access.allows("Bearer s3cre", None)
    assert not access.allows("Basic s3cret", None)
    assert not access.allows(None, "s3cret")
    assert access.allows(None, access.cookie_value())
    assert "s3cret" not in access.cookie_value()
    assert BoardAccess(None).allows(None, None)


def test_a_login_cookie_expires_with_its_age_and_with_its_token() -> None:
    """A copied cookie stops working after COOKIE_MAX_AGE_SECONDS, whatever the browser
    keeps, and as soon as the token changes."""
    now = [1_000_000.0]
    access = BoardAccess(SecretStr("s3cret"), clock=lambda: now[0])
    cookie = access.cookie_value()
    now[0] += COOKIE_MAX_AGE_SECONDS - 1
    assert access.allows(None, cookie)
    now[0] += 2
    assert not access.allows(None, cookie)
    assert access.allows(None, access.cookie_value())
    rotated = BoardAccess(SecretStr("n3w"), clock=lambda: now[0])
    assert not rotated.allows(None, access.cookie_value())
    issued, _, digest = access.cookie_value().partition(".")
    assert not access.allows(None, f"{int(issued) + 3600}.{digest}")
    assert not access.allows(None, f"¹²³.{digest}")


def test_the_cache_reads_once_per_period() -> None:
    """Page views within the period cost nothing; after it, one read."""
    now = [0.0]
    cache: ReadCache[int] = ReadCache(30, lambda: now[0])
    reads = iter(range(10))
    assert cache.get("board", lambda: next(reads)) == 0
    now[0] = 29.9
    assert cache.get("board", lambda: next(reads)) == 0
    now[0] = 30.0
    assert cache.get("board", lambda: next(reads)) == 1
    assert cache.reads == 2


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/srv/data/eval/churn.parquet", "eval/churn.parquet"),
        ("/home/bot/secret/churn.parquet", None),
        ("eval/churn.parquet", "eval/churn.parquet"),
        ("../outside.parquet", None),
        (None, None),
    ],
)
def test_only_paths_inside_the_data_root_are_shown(path: str | None, shown: str | None) -> None:
    """A record may hold where the bot read its data; the board shows it only relative to
    the data root."""
    assert shown_data_path(path, Path("/srv/data")) == shown
