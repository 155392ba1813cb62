"""CD from the service: a push to the default branch pulls the bot's checkout and applies it.

The checkout (`PROMOBOT_REPO`) is the bot's own clone; it is reset to the
remote's default branch, so nobody should work in it. Teams that run CD in
GitHub Actions (`.github/workflows/cd.yml`) leave `apply_on_push` off.
"""

from __future__ import annotations

import logging
from pathlib import Path

import git

from bot.errors import TargetError, UserInputError
from bot.forge.base import Forge
from bot.gitrepo import GitRepo
from bot.webhooks.events import Pushed
from bot.workflows.apply import RegistryProvider, TargetProvider, apply_changes

log = logging.getLogger(__name__)


def update_checkout(checkout: Path, branch: str) -> None:
    """Fetch the remote and move the checkout's `branch` to the remote's head."""
    try:
        repo = git.Repo(checkout)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UserInputError(
            f"{checkout} is not a git checkout", hint="set PROMOBOT_REPO to the bot's clone"
        ) from exc
    with repo:
        repo.git.fetch("origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        repo.git.checkout("-B", branch, f"origin/{branch}")


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
    update_checkout(checkout, branch)
    with GitRepo(checkout) as repo:
        report = apply_changes(
            repo, targets, branch=branch, registries=registries, forge=forge, progress=log.info
        )
    if not report.ok:
        details = "; ".join(f"{r.path}: {r.detail}" for r in report.failures)
        raise TargetError(f"apply of {report.head[:7]} failed: {details}")
