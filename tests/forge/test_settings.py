"""Adapter settings: exactly one way to sign in, with a message that says how to fix it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from bot.errors import UserInputError
from bot.forge.client import app_signer, make_retry, read_private_key, seconds_until_reset
from bot.forge.settings import GitHubSettings


def make_settings(**overrides: Any) -> GitHubSettings:
    values: dict[str, Any] = {"repository": "acme/models", "bot_login": "promobot", "token": "t"}
    values.update(overrides)
    return GitHubSettings(**values)


def test_token_settings() -> None:
    """A token alone is enough; the owner comes from the repository name."""
    settings = make_settings()
    assert settings.owner == "acme"
    assert not settings.uses_app


def test_app_settings(tmp_path: Path) -> None:
    """App id, key and installation id together select App authentication."""
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    settings = make_settings(token=None, app_id=1, installation_id=2, private_key_path=key)
    assert settings.uses_app
    assert read_private_key(settings).startswith("-----BEGIN")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"token": None}, "no credentials"),
        ({"app_id": 1}, "not both"),
        ({"token": None, "app_id": 1}, "needs `app_id` and `private_key_path`"),
        ({"repository": "no-slash"}, "repository"),
        ({"repository": None}, "token mode serves one repository; set `repository`"),
        ({"repositories": ("acme/models",)}, "`repositories` needs a GitHub App"),
        ({"commit_name": "promobot"}, "set both `commit_name` and `commit_email`"),
    ],
)
def test_invalid_settings_say_what_to_set(overrides: dict[str, Any], message: str) -> None:
    """Half-configured credentials fail at start-up, naming the missing fields."""
    with pytest.raises(ValidationError, match=message):
        make_settings(**overrides)


def test_unreadable_key_is_a_user_error(tmp_path: Path) -> None:
    """A wrong key path is the user's mistake: a message, not a traceback."""
    settings = make_settings(
        token=None, app_id=1, installation_id=2, private_key_path=tmp_path / "missing.pem"
    )
    with pytest.raises(UserInputError, match=r"cannot read the App private key"):
        read_private_key(settings)


def test_a_key_that_is_not_an_rsa_pem_is_a_user_error() -> None:
    """A truncated file or an EC key is refused when the adapter is built, with what to do,
    not at the first token request with a cryptography traceback."""
    with pytest.raises(UserInputError, match="not an unencrypted PEM private key") as caught:
        app_signer("-----BEGIN PRIVATE KEY-----\n")
    assert "download a private key" in (caught.value.hint or "")
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(UserInputError, match="is not an RSA key"):
        app_signer(ec_pem)


def test_reset_header_arithmetic() -> None:
    """`x-ratelimit-reset` is an epoch second; the wait rounds up by one second."""
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    epoch = str(int(now.timestamp()) + 5)
    assert seconds_until_reset(epoch, now) == pytest.approx(6.0)
    assert seconds_until_reset(str(int(now.timestamp()) - 5), now) == pytest.approx(1.0)
    assert seconds_until_reset(None, now) is None
    assert seconds_until_reset("soon", now) is None


def test_retry_policy_is_bounded() -> None:
    """Retries stop after `retry_total`, cover 429, 5xx and PATCH, and return the last answer."""
    retry = make_retry(make_settings(retry_total=3))
    assert retry.total == 3
    assert retry.status_forcelist is not None
    assert {429, 500, 502, 503, 403} <= set(retry.status_forcelist)
    assert retry.allowed_methods is not None
    assert "PATCH" in retry.allowed_methods
    assert retry.raise_on_status is False


def app_values(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    values: dict[str, Any] = {
        "token": None,
        "app_id": 1,
        "private_key_path": key,
        "repository": None,
    }
    values.update(overrides)
    return values


def test_an_app_needs_no_repository_nor_installation(tmp_path: Path) -> None:
    """One App serves every installed repository: both are found at run time."""
    settings = make_settings(**app_values(tmp_path))
    assert settings.repository is None
    assert settings.installation_id is None
    assert settings.serves("acme/anything")


def test_repositories_narrow_what_an_app_serves(tmp_path: Path) -> None:
    """`repositories` lists what is served; anything else is ignored, case aside."""
    settings = make_settings(**app_values(tmp_path, repositories=("acme/models",)))
    assert settings.serves("ACME/models")
    assert not settings.serves("acme/webapp")


def test_an_apps_default_repository_does_not_narrow_what_it_serves(tmp_path: Path) -> None:
    """With an App, `repository` is the default one (CLI, CD on push, the board): every
    installed repository is still served; a token serves its one repository only."""
    app = make_settings(**app_values(tmp_path, repository="acme/models"))
    assert app.serves("acme/models") and app.serves("acme/webapp")
    token = make_settings()
    assert token.serves(token.repository or "") and not token.serves("acme/webapp")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"repositories": ("no-slash",)}, "entries must be `owner/name`; not no-slash"),
        (
            {"commit_name": "promobot", "commit_email": "x@example.com"},
            "an App's commits carry no custom author",
        ),
    ],
)
def test_invalid_app_settings_say_what_to_fix(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    """A custom identity would make the App's commits unsigned; bad names are refused."""
    with pytest.raises(ValidationError, match=message):
        make_settings(**app_values(tmp_path, **overrides))


def test_no_commit_identity_by_default() -> None:
    """`promobot@users.noreply.github.com` belongs to a user named promobot: by default the
    bot names no identity at all, and GitHub attributes commits to the token's user."""
    settings = make_settings()
    assert settings.commit_name is None
    assert settings.commit_email is None
