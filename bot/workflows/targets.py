"""Targets, registries and the forge that CD talks to, built from settings on first use.

A manifest names its target kind (`deployment.target`) and its registry
(`source.registry`); each adapter is built the first time a manifest needs it,
so a repository without Azure manifests never needs Azure settings, and a
missing Azure configuration fails only the manifests that deploy there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, assert_never

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.manifest import Deployment, RegistryKind, TargetKind
from bot.errors import UserInputError
from bot.forge.base import Forge
from bot.forge.settings import GitHubSettings
from bot.registry.base import Registry
from bot.targets.base import Target

DEFAULT_LOCAL_TARGET_URL = "http://127.0.0.1:8081"

TargetFactory = Callable[[], Target]
RegistryFactory = Callable[[], Registry]


class CdSettings(BaseModel):
    """What `apply`, `diff` and verification need to reach targets, registries and GitHub."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI: environment aliases are set there, and the local "
        "scoring server resolves `models:/` URIs with it (its own when None).",
    )
    local_target_url: str = Field(
        default=DEFAULT_LOCAL_TARGET_URL,
        description="URL of the `promobot serve-models` scoring server (target `local`).",
    )
    github: GitHubSettings | None = Field(
        default=None,
        description="GitHub, to record deployments and open reverts; None works without GitHub.",
    )


class TargetPool:
    """`Callable[[Deployment], Target]`: one adapter per target kind, built when first needed."""

    def __init__(
        self,
        settings: CdSettings,
        factories: Mapping[TargetKind, TargetFactory] | None = None,
    ) -> None:
        """`factories` replaces how a kind is built (tests, or a service that shares clients)."""
        self._settings = settings
        self._factories = dict(factories or {})
        self._built: dict[TargetKind, Target] = {}

    def __call__(self, deployment: Deployment) -> Target:
        kind = deployment.target
        if kind not in self._built:
            factory = self._factories.get(kind)
            self._built[kind] = factory() if factory else build_target(kind, self._settings)
        return self._built[kind]

    def close(self) -> None:
        """Close the adapters that hold connections."""
        for target in self._built.values():
            _close(target)
        self._built.clear()


class RegistryPool:
    """`Callable[[RegistryKind], Registry | None]`: where environment aliases are moved."""

    def __init__(
        self,
        settings: CdSettings,
        factories: Mapping[RegistryKind, RegistryFactory] | None = None,
    ) -> None:
        self._settings = settings
        self._factories = dict(factories or {})
        self._built: dict[RegistryKind, Registry | None] = {}

    def __call__(self, kind: RegistryKind) -> Registry | None:
        if kind not in self._built:
            factory = self._factories.get(kind)
            self._built[kind] = factory() if factory else build_registry(kind, self._settings)
        return self._built[kind]


def build_target(kind: TargetKind, settings: CdSettings) -> Target:
    """The real adapter of a target kind, or a `UserInputError` saying what to configure."""
    match kind:
        case TargetKind.LOCAL:
            from bot.targets.local import LocalTarget  # noqa: PLC0415  (httpx only when used)

            return LocalTarget(settings.local_target_url, settings.tracking_uri)
        case TargetKind.AZUREML:
            return _azureml_target()
        case TargetKind.AZURE_DEVOPS:
            return _azure_devops_target()
        case unreachable:
            assert_never(unreachable)


def build_registry(kind: RegistryKind, settings: CdSettings) -> Registry | None:
    """The registry whose aliases follow what serves; None when it is not configured."""
    match kind:
        case RegistryKind.MLFLOW:
            if settings.tracking_uri is None:
                return None
            from bot.registry.mlflow import MlflowRegistry  # noqa: PLC0415  (a slow import)

            return MlflowRegistry(settings.tracking_uri)
        case RegistryKind.AZUREML:
            from bot.registry.azureml import AzureMLRegistry  # noqa: PLC0415

            return AzureMLRegistry(_azure_settings("the Azure ML registry"))
        case unreachable:
            assert_never(unreachable)


def build_forge(settings: CdSettings) -> Forge | None:
    """The GitHub adapter when GitHub is configured, else None (CD works without GitHub)."""
    if settings.github is None:
        return None
    from bot.forge.github import GitHubForge  # noqa: PLC0415  (PyGithub only when used)

    return GitHubForge(settings.github)


def close_forge(forge: Forge | None) -> None:
    """Release the forge's connections, if it holds any."""
    if forge is not None:
        _close(forge)


def _azure_settings(what: str) -> Any:
    try:
        from bot.targets.azure_settings import AzureSettings  # noqa: PLC0415
    except ImportError as exc:
        raise UserInputError(
            f"{what} needs the Azure SDK, which is not installed: {exc}",
            hint="install azure-ai-ml and azure-identity (they are promobot dependencies)",
        ) from exc
    try:
        return AzureSettings()  # fields come from the environment
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise UserInputError(
            f"{what} is not configured: missing or invalid {missing}",
            hint="set PROMOBOT_AZURE_SUBSCRIPTION_ID, PROMOBOT_AZURE_RESOURCE_GROUP and "
            "PROMOBOT_AZURE_WORKSPACE (see README, 'Deploying to Azure ML')",
        ) from exc


def _azureml_target() -> Target:
    settings = _azure_settings("deployment target `azureml`")
    from bot.targets.azureml import AzureMLTarget  # noqa: PLC0415  (azure-ai-ml is slow)

    return AzureMLTarget(settings)


def _azure_devops_target() -> Target:
    try:
        from bot.targets.azure_devops import AzureDevOpsTarget  # noqa: PLC0415
        from bot.targets.azure_settings import AzureDevOpsSettings  # noqa: PLC0415
    except ImportError as exc:
        raise UserInputError(
            f"deployment target `azure-devops` needs the azure-devops SDK: {exc}",
            hint="install azure-devops (a promobot dependency)",
        ) from exc
    try:
        settings = AzureDevOpsSettings()  # fields come from the environment
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise UserInputError(
            f"deployment target `azure-devops` is not configured: missing or invalid {missing}",
            hint="set PROMOBOT_AZURE_DEVOPS_ORG_URL, PROMOBOT_AZURE_DEVOPS_PROJECT and "
            "PROMOBOT_AZURE_DEVOPS_TOKEN",
        ) from exc
    return AzureDevOpsTarget(settings)


def _close(adapter: object) -> None:
    close = getattr(adapter, "close", None)
    if callable(close):
        close()
