"""CD fetches a private repository over HTTPS with the forge's token (which one, and its
renewal, is in the contract): git gets it from a credential helper, never from the command
line or a file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydantic import SecretStr

from bot.forge.base import GitCredentials
from bot.forge.gitauth import git_auth
from tests.support.github_sandbox import GitHubSandbox
from tests.support.http import LOCAL

SECRET = "ghs_not_a_real_token_0123456789"


def can_read_repository(sandbox: GitHubSandbox, credentials: GitCredentials) -> bool:
    token = credentials.password.get_secret_value()
    answer = LOCAL.get(
        f"{sandbox.base_url}/repos/{sandbox.repo_name}",
        headers={"Authorization": f"token {token}"},
    )
    return answer.status_code == 200


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
