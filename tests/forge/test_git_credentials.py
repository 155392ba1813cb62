"""CD fetches a private repository over HTTPS with the installation token: current when
asked for, handed to git by a credential helper, never on the command line or on disk."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.forge.base import GitCredentials
from bot.forge.gitauth import git_auth
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import app_settings, token_settings
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import GitHubSandbox, make_checks, start_github_sandbox

SECRET = "ghs_not_a_real_token_0123456789"


def can_read_repository(sandbox: GitHubSandbox, credentials: GitCredentials) -> bool:
    token = credentials.password.get_secret_value()
    answer = httpx.get(
        f"{sandbox.base_url}/repos/{sandbox.repo_name}",
        headers={"Authorization": f"token {token}"},
    )
    return answer.status_code == 200


def test_app_credentials_are_a_current_installation_token(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """Tokens last an hour (20 seconds here); each fetch gets one that is still valid."""
    checks = make_checks(rest_contract, webhook_contract)
    with start_github_sandbox(tmp_path, checks, app_token_ttl=20) as sandbox:
        with GitHubForge(app_settings(sandbox)) as forge:
            first = forge.fetch_credentials()
            second = forge.fetch_credentials()
        assert first.username == "x-access-token"
        assert first.password != second.password
        assert can_read_repository(sandbox, second)
        assert first.password.get_secret_value() not in repr(first)


def test_token_credentials_are_the_token(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    forge = make_forge(token_settings(github_sandbox, login="bob"))
    credentials = forge.fetch_credentials()
    assert credentials.password.get_secret_value() == github_sandbox.tokens["bob"]
    assert can_read_repository(github_sandbox, credentials)


def test_git_gets_the_token_from_the_helper_only(tmp_path: Path) -> None:
    """git asks the inline helper, which prints the token from its environment; the token
    is in no argument and no file, and helpers configured elsewhere are not asked."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    auth = git_auth(GitCredentials(username="x-access-token", password=SecretStr(SECRET)))
    environment = auth.env({"HOME": str(home), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"})
    command = auth.command("credential", "fill")
    asked = "protocol=https\nhost=github.com\npath=acme/models.git\n\n"
    done = subprocess.run(
        command,
        input=asked,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "username=x-access-token" in done.stdout.splitlines()
    assert f"password={SECRET}" in done.stdout.splitlines()
    assert not any(SECRET in part for part in command)
    assert SECRET not in repr(auth)
    approve = auth.command("credential", "approve")
    stored = f"protocol=https\nhost=github.com\nusername=x-access-token\npassword={SECRET}\n\n"
    subprocess.run(approve, input=stored, env=environment, text=True, timeout=30, check=True)
    assert not (home / ".git-credentials").exists()
