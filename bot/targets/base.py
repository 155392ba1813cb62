"""The `Target` protocol: something that serves model versions and moves traffic.

A target is told the desired state (a manifest) and makes it so; it never
decides *what* should serve. Rollback is applying an older manifest, so there
is no rollback method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.manifest import Deployment, ModelManifest
from bot.domain.verification import HealthSample

Progress = Callable[[str], None]
"""Receives one short line per step, for the CLI and logs."""


class ServingState(BaseModel):
    """What an endpoint serves now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model name.")
    environment: str = Field(description="Environment.")
    endpoint: str = Field(description="Endpoint name.")
    traffic: dict[str, int] = Field(
        default_factory=dict, description="Version -> percentage of traffic (sums to 100 or 0)."
    )

    @property
    def serving_version(self) -> str | None:
        """The version that takes all traffic, or None while split or empty."""
        full = [v for v, share in self.traffic.items() if share == 100]
        return full[0] if full else None


class ApplyOutcome(BaseModel):
    """What `Target.apply` did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    changed: bool = Field(description="False when the version already served all traffic.")
    state: ServingState = Field(description="What serves afterwards.")
    detail: str = Field(description="One line for the log and the deployment status.")


class Target(Protocol):
    """Serves versions. `apply` is idempotent; on failure the old version keeps serving."""

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        """Make `manifest.version` serve all traffic of its endpoint, or raise `TargetError`."""
        ...

    def state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        """What the endpoint serves now."""
        ...

    def health(self, model: str, environment: str, deployment: Deployment) -> list[HealthSample]:
        """Health per serving version since the version was deployed."""
        ...
