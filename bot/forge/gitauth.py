"""Git over HTTPS with the forge's token, for CD's `git fetch` of a private repository.

An installation token works as the password of the user `x-access-token` and expires
after an hour, so it is asked for right before each git command. It never goes on
the command line (other users can read process arguments), into a remote URL, a git
config file or a log: git gets it from a credential helper defined inline, which
prints it from the git process's own environment.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation#about-authentication-as-an-installation
https://git-scm.com/docs/gitcredentials#_custom_helpers
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.forge.values import GitCredentials

TOKEN_USERNAME = "x-access-token"  # noqa: S105 - GitHub's fixed user name, not a secret
PASSWORD_VARIABLE = "PROMOBOT_GIT_PASSWORD"  # noqa: S105 - the variable's name only
USERNAME_VARIABLE = "PROMOBOT_GIT_USERNAME"
# Prints the credentials git asks for ("get"); ignores "store" and "erase".
HELPER = (
    '!f() { test "$1" = get || exit 0; '
    f'echo "username=${USERNAME_VARIABLE}"; echo "password=${PASSWORD_VARIABLE}"; }}; f'
)


@dataclass(frozen=True)
class GitAuth:
    """What to add to a git command: `-c` options before the subcommand, and environment."""

    options: tuple[str, ...]
    environment: Mapping[str, str] = field(repr=False)

    def command(self, *args: str) -> list[str]:
        """`git <options> <args>`."""
        return ["git", *self.options, *args]

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (the current environment when None) with the credentials added."""
        return {**(os.environ if base is None else base), **self.environment}


def git_auth(credentials: GitCredentials) -> GitAuth:
    """Options and environment that make git answer HTTPS prompts with `credentials`.

    The empty `credential.helper` first drops helpers configured elsewhere, so that
    none of them (a `store` helper writes a file) is told the token.
    """
    return GitAuth(
        options=("-c", "credential.helper=", "-c", f"credential.helper={HELPER}"),
        environment={
            USERNAME_VARIABLE: credentials.username,
            PASSWORD_VARIABLE: credentials.password.get_secret_value(),
            "GIT_TERMINAL_PROMPT": "0",
        },
    )
