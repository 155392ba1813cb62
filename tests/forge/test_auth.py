"""Signing in with a token, and as a GitHub App installation whose token is refreshed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.errors import ForgeError
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import APP_BOT, app_settings, promote, token_settings
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import GitHubSandbox, make_checks, start_github_sandbox

ACCESS_TOKENS = "/access_tokens"


def token_requests(sandbox: GitHubSandbox) -> int:
    return sum(1 for e in sandbox.requests() if e["path"].endswith(ACCESS_TOKENS))


def test_token_auth_acts_as_the_user(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """With a token, the pull request is the token owner's and no App token is fetched."""
    forge = make_forge(token_settings(github_sandbox, login="bob"))
    result = promote(forge, 2, reviewers=["carol"])
    assert result.pull_request.author == "bob"
    assert token_requests(github_sandbox) == 0


def test_app_auth_acts_as_the_bot_and_reuses_its_token(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """As an App, one installation token serves many calls while it is valid."""
    result = promote(forge, 2)
    forge.set_check_run(
        result.commit_sha, "promobot/check", conclusion=None, title="t", summary="s"
    )
    forge.upsert_comment(result.pull_request.number, "<!-- m -->", "hello")
    assert result.pull_request.author == APP_BOT
    assert forge.list_comments(result.pull_request.number)[0].user == APP_BOT
    assert token_requests(github_sandbox) == 1


def test_app_token_is_refreshed_before_it_expires(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """A token within 20 s of expiry is replaced before use, so no call fails with 401.

    The sandbox issues 20-second tokens here: each is already due for refresh when used again.
    """
    checks = make_checks(rest_contract, webhook_contract)
    with start_github_sandbox(tmp_path, checks, app_token_ttl=20) as sandbox:
        forge = GitHubForge(app_settings(sandbox))
        try:
            forge.default_branch()
            forge.read_file("README.md")
            forge.list_files("model-manifests")
        finally:
            forge.close()
        api_calls = [e for e in sandbox.requests() if not e["path"].endswith(ACCESS_TOKENS)]
        assert len(api_calls) == 5
        assert token_requests(sandbox) == len(api_calls)
        assert [e for e in sandbox.requests() if e["status"] == 401] == []


def test_bad_token_says_how_to_fix_it(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A revoked token is a 401 with a hint, not a traceback."""
    settings = token_settings(github_sandbox)
    forge = make_forge(settings.model_copy(update={"token": SecretStr("revoked")}))
    with pytest.raises(ForgeError, match="HTTP 401") as raised:
        forge.default_branch()
    assert raised.value.hint is not None
    assert "token" in raised.value.hint


def test_unknown_installation_is_an_error(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A wrong installation id fails clearly at the first call."""
    forge = make_forge(app_settings(github_sandbox, installation_id=999))
    with pytest.raises(ForgeError, match="HTTP 404"):
        forge.default_branch()
