"""CD from the service: a push to the default branch pulls the bot's checkout and applies it.

The checkout (`PROMOBOT_REPO`) is the bot's own clone; it is reset to the
remote's default branch, so nobody should work in it. Teams that run CD in
GitHub Actions (`.github/workflows/cd.yml`) leave `apply_on_push` off.
"""

from __future__ import annotations

import logging

import git

from bot.errors import TargetError, UserInputError
from bot.forge.base import Forge
from bot.gitrepo import GitRepo
from bot.settings import Settings
from bot.webhooks.events import Pushed
from bot.workflows.apply import apply_changes
from bot.workflows.targets import CdSettings, RegistryPool, TargetPool

log = logging.getLogger(__name__)


def update_checkout(settings: Settings, branch: str) -> None:
    """Fetch the remote and move the checkout's `branch` to the remote's head."""
    try:
        repo = git.Repo(settings.repo)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UserInputError(
            f"{settings.repo} is not a git checkout", hint="set PROMOBOT_REPO to the bot's clone"
        ) from exc
    with repo:
        repo.git.fetch("origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        repo.git.checkout("-B", branch, f"origin/{branch}")


def apply_on_push(settings: Settings, forge: Forge, event: Pushed) -> None:
    """Apply the default branch after a push to it; raise so a failed apply is retried."""
    branch = forge.default_branch().name
    if event.ref != f"refs/heads/{branch}":
        return
    update_checkout(settings, branch)
    cd = CdSettings(
        tracking_uri=settings.mlflow_tracking_uri,
        local_target_url=settings.local_target_url,
        github=settings.github,
    )
    targets, registries = TargetPool(cd), RegistryPool(cd)
    try:
        with GitRepo(settings.repo) as repo:
            report = apply_changes(
                repo, targets, branch=branch, registries=registries, forge=forge, progress=log.info
            )
    finally:
        targets.close()
    if not report.ok:
        details = "; ".join(f"{r.path}: {r.detail}" for r in report.failures)
        raise TargetError(f"apply of {report.head[:7]} failed: {details}")
