"""The MLflow model registry behind the `Registry` protocol."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from bot.domain.manifest import RegistryKind
from bot.errors import UnknownModelVersion
from bot.registry.base import ModelVersionInfo, version_sort_key


class MlflowRegistry:
    """Reads versions, run metrics and aliases from an MLflow tracking server or database."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)

    def get_version(self, model: str, version: str) -> ModelVersionInfo:
        """The version with its run's metrics, or `UnknownModelVersion`."""
        try:
            mv = self._client.get_model_version(model, str(version))
        except MlflowException as exc:
            raise UnknownModelVersion(
                f"model {model!r} has no version {version!r} in the registry at "
                f"{self.tracking_uri}",
                hint="check the name and version with `mlflow models` or the MLflow UI",
            ) from exc
        return self._info(mv)

    def list_versions(self, model: str) -> list[ModelVersionInfo]:
        """Every version of `model`, oldest first."""
        try:
            found = self._client.search_model_versions(f"name = '{_quote(model)}'")
        except MlflowException as exc:
            raise UnknownModelVersion(f"cannot list versions of {model!r}: {exc}") from exc
        infos = [self._info(mv) for mv in found]
        return sorted(infos, key=lambda i: version_sort_key(i.version))

    def list_models(self) -> list[str]:
        """Names of all registered models."""
        return sorted(m.name for m in self._client.search_registered_models())

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Point `alias` at `version`."""
        self._client.set_registered_model_alias(model, alias, str(version))

    def alias_version(self, model: str, alias: str) -> str | None:
        """The version `alias` points at, or None."""
        try:
            return str(self._client.get_model_version_by_alias(model, alias).version)
        except MlflowException:
            return None

    def _info(self, mv: Any) -> ModelVersionInfo:
        metrics: dict[str, float] = {}
        run_id = mv.run_id or None
        if run_id:
            try:
                metrics = dict(self._client.get_run(run_id).data.metrics)
            except MlflowException:
                metrics = {}
        if not metrics:
            metrics = self._logged_model_metrics(mv)
        created = (
            dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=dt.UTC)
            if mv.creation_timestamp
            else None
        )
        return ModelVersionInfo(
            registry=RegistryKind.MLFLOW,
            model=mv.name,
            version=str(mv.version),
            uri=f"models:/{mv.name}/{mv.version}",
            source=mv.source,
            run_id=run_id,
            metrics=metrics,
            tags=dict(mv.tags or {}),
            created_at=created,
        )

    def _logged_model_metrics(self, mv: Any) -> dict[str, float]:
        """MLflow 3 registers `models:/m-…` logged models that carry their own metrics."""
        model_id = getattr(mv, "model_id", None)
        source = str(mv.source or "")
        if not model_id and source.startswith("models:/m-"):
            model_id = source.removeprefix("models:/").split("/")[0]
        if not model_id:
            return {}
        try:
            logged = self._client.get_logged_model(model_id)
        except MlflowException:
            return {}
        return {m.key: float(m.value) for m in (logged.metrics or [])}


def _quote(name: str) -> str:
    return name.replace("'", "\\'")
