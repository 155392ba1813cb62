"""CD from the service: a push to the default branch pulls the bot's checkout and applies it.

The checkout (`PROMOBOT_REPO`) is the bot's own clone; it is reset to the
remote's default branch, so nobody should work in it. Teams that run CD in
GitHub Actions (`.github/workflows/cd.yml`) leave `apply_on_push` off.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import git

from bot.errors import TargetError, UserInputError
from bot.forge.base import Forge, GitCredentials
from bot.forge.gitauth import git_auth
from bot.gitrepo import GitRepo
from bot.webhooks.events import Pushed
from bot.workflows.apply import RegistryProvider, TargetProvider, apply_changes

log = logging.getLogger(__name__)


def update_checkout(checkout: Path, branch: str, credentials: GitCredentials | None) -> None:
    """Fetch the remote and move the checkout's `branch` to the remote's head.

    Over HTTPS git asks for credentials: the forge's (an App's installation token, renewed
    hourly) are handed to this one fetch, never written to disk or a log.
    """
    try:
        repo = git.Repo(checkout)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UserInputError(
            f"{checkout} is not a git checkout", hint="set PROMOBOT_REPO to the bot's clone"
        ) from exc
    refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
    with repo:
        if credentials is None:
            repo.git.fetch("origin", refspec)
        else:
            auth = git_auth(credentials)
            subprocess.run(
                auth.command("-C", str(checkout), "fetch", "--quiet", "origin", refspec),
                env=auth.env(),
                check=True,
                capture_output=True,
            )
        repo.git.checkout("-B", branch, f"origin/{branch}")


def _credentials(forge: Forge, checkout: Path) -> GitCredentials | None:
    """The forge's credentials when `origin` is fetched over HTTPS; None for a local path."""
    with git.Repo(checkout) as repo:
        url = repo.remotes.origin.url if "origin" in repo.remotes else ""
    return forge.fetch_credentials() if url.startswith("https://") else None


def apply_on_push(
    checkout: Path,
    forge: Forge,
    targets: TargetProvider,
    registries: RegistryProvider,
    event: Pushed,
) -> None:
    """Apply the default branch after a push to it; raise so a failed apply is retried."""
    branch = forge.default_branch().name
    if event.ref != f"refs/heads/{branch}":
        return
    update_checkout(checkout, branch, _credentials(forge, checkout))
    with GitRepo(checkout) as repo:
        report = apply_changes(
            repo, targets, branch=branch, registries=registries, forge=forge, progress=log.info
        )
    if not report.ok:
        details = "; ".join(f"{r.path}: {r.detail}" for r in report.failures)
        raise TargetError(f"apply of {report.head[:7]} failed: {details}")
