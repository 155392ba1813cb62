"""What the workflows work with: the adapters and where files are, built by `bot.app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.forge.base import Forge
from bot.registry.base import Registry


@dataclass(frozen=True)
class Services:
    """The forge, the registry and the folders the workflows read, as `bot.app` wired them."""

    forge: Forge
    registry: Registry
    data_root: Path | None = None
    templates_root: Path | None = None
    tracking_uri: str | None = None
    repository: str = ""
    sign_record: Callable[[str], str] | None = None
    """Signs a decision record's text (`bot.signing.SshSigner.sign`); None: unsigned."""

    def forge_owner(self) -> str:
        """The organisation (or user) that owns the repository: where teams live."""
        return self.repository.partition("/")[0]
