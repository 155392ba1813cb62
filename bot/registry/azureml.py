"""An Azure ML workspace's model registry behind the `Registry` protocol.

Versions and tags come from azure-ai-ml's `MLClient.models`. The metrics of the run
that produced a version come from the workspace's MLflow-compatible tracking service
(`runs/get`, with the job name as the run id), which is where Azure ML keeps the
metrics a training job logs. Azure ML has no model aliases, so an alias is a tag
`promobot.alias.<alias>` on exactly one version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError

from bot.azure.clients import build_credential, build_ml_client
from bot.azure.settings import AzureSettings
from bot.azure.tracking import WorkspaceTracking
from bot.domain.manifest import RegistryKind
from bot.errors import PromobotError, UnknownModelVersion
from bot.registry.base import ModelVersionInfo, version_sort_key

ALIAS_TAG = "promobot.alias."


class AzureMLRegistry:
    """Reads model versions and run metrics from an Azure ML workspace; moves alias tags."""

    def __init__(
        self,
        settings: AzureSettings,
        *,
        credential: TokenCredential | None = None,
        ml_client: Any = None,
    ) -> None:
        self.settings = settings
        self._credential = credential or build_credential(settings)
        self._ml = (
            ml_client if ml_client is not None else build_ml_client(settings, self._credential)
        )
        self._tracking = WorkspaceTracking(settings, self._credential, self._ml)

    def get_version(self, model: str, version: str) -> ModelVersionInfo:
        """The version with its run's metrics, or `UnknownModelVersion`."""
        try:
            found = self._ml.models.get(name=model, version=str(version))
        except ResourceNotFoundError as exc:
            raise UnknownModelVersion(
                f"model {model!r} has no version {version!r} in Azure ML workspace "
                f"{self.settings.workspace}",
                hint="list the versions with `az ml model list --name " + model + "`",
            ) from exc
        except AzureError as exc:
            raise self._error(f"cannot read {model}:{version}", exc) from exc
        return self._info(found)

    def list_versions(self, model: str) -> list[ModelVersionInfo]:
        """Every version of `model`, oldest first; empty when the model is unknown."""
        try:
            found = list(self._ml.models.list(name=model))
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            raise self._error(f"cannot list versions of {model}", exc) from exc
        infos = [self._info(mv) for mv in found]
        return sorted(infos, key=lambda info: version_sort_key(info.version))

    def list_models(self) -> list[str]:
        """Names of all registered models."""
        try:
            return sorted({str(m.name) for m in self._ml.models.list()})
        except AzureError as exc:
            raise self._error("cannot list models", exc) from exc

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Tag `version` with the alias and take the tag off every other version."""
        key = ALIAS_TAG + alias
        try:
            for mv in self._ml.models.list(name=model):
                tags = dict(mv.tags or {})
                wanted = str(mv.version) == str(version)
                if (key in tags) == wanted:
                    continue
                if wanted:
                    tags[key] = "true"
                else:
                    tags.pop(key)
                mv.tags = tags
                self._ml.models.create_or_update(mv)
        except AzureError as exc:
            raise self._error(f"cannot move alias {alias} of {model} to {version}", exc) from exc

    def alias_version(self, model: str, alias: str) -> str | None:
        """The version carrying the alias tag, or None."""
        for info in self.list_versions(model):
            if ALIAS_TAG + alias in info.tags:
                return info.version
        return None

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """Latest value of every metric the run logged; empty when the run is unknown."""
        run = self._tracking.get_run(run_id)
        metrics = (run or {}).get("data", {}).get("metrics", [])
        return {str(m["key"]): float(m["value"]) for m in metrics}

    def close(self) -> None:
        """Close the tracking service's HTTP session."""
        self._tracking.close()

    def _info(self, mv: Any) -> ModelVersionInfo:
        run_id = mv.job_name or None
        created = getattr(mv.creation_context, "created_at", None)
        return ModelVersionInfo(
            registry=RegistryKind.AZUREML,
            model=str(mv.name),
            version=str(mv.version),
            uri=f"azureml:{mv.name}:{mv.version}",
            source=mv.path,
            run_id=run_id,
            metrics=self.run_metrics(run_id) if run_id else {},
            tags={str(k): str(v) for k, v in (mv.tags or {}).items()},
            created_at=_utc(created),
        )

    def _error(self, what: str, exc: AzureError) -> PromobotError:
        return PromobotError(
            f"{what} in Azure ML workspace {self.settings.workspace}: {exc}",
            hint="check the subscription, resource group and workspace settings and your role",
        )


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None
