"""Builds the board from the settings: its git mirror, the forge, the targets.

Adapters come from `bot.app`'s builders, as everywhere else; the board adds only its mirror.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
from fastapi import APIRouter

from bot.app import TargetPool, build_forge, close_adapter
from bot.board.access import BoardAccess
from bot.board.links import Links, repository_web_url
from bot.board.mirror import GitMirror
from bot.board.reader import BoardSources
from bot.board.routes import board_routes
from bot.board.service import BoardService
from bot.errors import UserInputError
from bot.forge.base import Forge, GitCredentials
from bot.registry.base import ModelVersionInfo
from bot.settings import Settings
from bot.workflows.services import Services


class NoRegistry:
    """The registry of the board's `Services`: the board reads none, so every call says so."""

    def _refuse(self) -> UserInputError:
        return UserInputError("the promotion board reads no model registry")

    def get_version(self, model: str, version: str) -> ModelVersionInfo:
        """Refused: the board reads what git and GitHub say."""
        del model, version
        raise self._refuse()

    def list_versions(self, model: str) -> list[ModelVersionInfo]:
        """Refused."""
        del model
        raise self._refuse()

    def list_models(self) -> list[str]:
        """Refused."""
        raise self._refuse()

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Refused: the board writes nothing."""
        del model, alias, version
        raise self._refuse()


def origin_url(checkout: Path) -> str | None:
    """The `origin` remote of a git checkout, or None."""
    try:
        with git.Repo(checkout) as repo:
            return str(repo.remotes.origin.url) if "origin" in repo.remotes else None
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def build_board(
    settings: Settings, *, clock: Callable[[], float] | None = None
) -> BoardService | None:
    """The board of the settings' repository; None when `PROMOBOT_BOARD_ENABLED` is false.

    `clock` (monotonic seconds) times the cache; tests and benchmarks move it by hand.
    """
    if settings.board.enabled is False:
        return None
    github = settings.github
    forge: Forge | None = None
    if github is not None and github.repository is not None:
        forge = build_forge(settings)
    repository = forge.repository if forge is not None else settings.repo.resolve().name
    url = settings.board.git_url or origin_url(settings.repo) or str(settings.repo.resolve())
    credentials = _credentials(forge)
    mirror_path = settings.service.state_dir / "board" / f"{repository.replace('/', '+')}.git"
    targets = TargetPool(settings)
    services = (
        None
        if forge is None
        else Services(forge=forge, registry=NoRegistry(), repository=forge.repository)
    )
    web = (
        None if github is None or forge is None else repository_web_url(github.base_url, repository)
    )
    sources = BoardSources(
        repository=repository,
        mirror=GitMirror(mirror_path, url, credentials),
        targets=targets,
        forge=forge,
        services=services,
        links=Links(web),
        data_root=settings.data_folder,
    )

    def close() -> None:
        targets.close()
        if forge is not None:
            close_adapter(forge)

    return BoardService(
        sources, settings.board.cache_seconds, clock=clock or time.monotonic, close=close
    )


def _credentials(forge: Forge | None) -> Callable[[], GitCredentials | None]:
    if forge is None:
        return lambda: None
    return forge.fetch_credentials


@dataclass(frozen=True)
class ServedBoard:
    """The board's routes for the service app, and what to release when it stops."""

    service: BoardService
    access: BoardAccess
    router: APIRouter

    @property
    def is_open(self) -> bool:
        """No token guards it."""
        return self.access.is_open

    def close(self) -> None:
        """Release the mirror and the adapters."""
        self.service.close()


def serve_board(settings: Settings) -> ServedBoard | None:
    """The board's routes as `promobot serve` mounts them; None when it is not served (no
    token and not enabled explicitly, or disabled)."""
    if not settings.board.is_served:
        return None
    service = build_board(settings)
    if service is None:
        return None
    access = BoardAccess(settings.board.token)
    return ServedBoard(service, access, board_routes(service, access))
