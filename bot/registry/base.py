"""The `Registry` protocol: where model versions, their runs and metrics live."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.manifest import RegistryKind


class ModelVersionInfo(BaseModel):
    """One registered version of a model, with the metrics of the run behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: RegistryKind = Field(description="Registry that holds the version.")
    model: str = Field(description="Registered model name.")
    version: str = Field(description="Version, as a string.")
    uri: str = Field(description="URI that loads the version, e.g. `models:/churn/7`.")
    source: str | None = Field(default=None, description="Where the artifacts are stored.")
    run_id: str | None = Field(default=None, description="Run that produced the version.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Run metrics.")
    tags: dict[str, str] = Field(default_factory=dict, description="Version tags.")
    created_at: dt.datetime | None = Field(default=None, description="Registration time (UTC).")


def version_sort_key(version: str) -> tuple[int, int | str]:
    """Registry versions in order: numbers numerically, then any other names."""
    return (0, int(version)) if version.isdigit() else (1, version)


class Registry(Protocol):
    """Reads model versions and moves aliases. One real adapter per registry."""

    def get_version(self, model: str, version: str) -> ModelVersionInfo:
        """The version, or `UnknownModelVersion` with a hint."""
        ...

    def list_versions(self, model: str) -> list[ModelVersionInfo]:
        """Every version of the model, oldest first."""
        ...

    def list_models(self) -> list[str]:
        """Names of all registered models."""
        ...

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Point `alias` (e.g. the environment's name) at `version`."""
        ...
