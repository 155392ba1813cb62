"""Where promobot is wired: settings in, adapters and workflows out.

This is the only module that builds a forge, a registry, a target or the workflows;
the command line and the service call it, the workflows receive what it builds. Each
adapter is built the first time something needs it, so a repository without Azure
manifests never needs Azure settings, and a missing Azure configuration fails only
the manifests that deploy there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import assert_never

from pydantic import TypeAdapter

from bot.domain.manifest import Deployment, RegistryKind, TargetKind
from bot.errors import UserInputError
from bot.forge.base import Forge
from bot.registry.base import Registry
from bot.server.handlers import Handler, ParkEvent, ServiceContext
from bot.server.loops import LoopGuard
from bot.settings import Settings
from bot.store.base import DecisionLog, StoredEvent
from bot.targets.base import Target
from bot.webhooks.events import DomainEvent, Pushed, is_own_write
from bot.workflows.dispatch import Workflows
from bot.workflows.services import Services

log = logging.getLogger(__name__)
_EVENTS: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)

TargetFactory = Callable[[], Target]
RegistryFactory = Callable[[], Registry]


def build_forge(settings: Settings) -> Forge:
    """The GitHub adapter; a clear error when GitHub is not configured."""
    from bot.forge.github import GitHubForge  # noqa: PLC0415 - PyGithub only when used

    return GitHubForge(settings.require_github())


def optional_forge(settings: Settings) -> Forge | None:
    """The GitHub adapter when GitHub is configured, else None (CD works without GitHub)."""
    return None if settings.github is None else build_forge(settings)


def build_registry(kind: RegistryKind, settings: Settings) -> Registry:
    """The registry adapter of `kind`, or a `UserInputError` saying what to configure."""
    match kind:
        case RegistryKind.MLFLOW:
            from bot.registry.mlflow import MlflowRegistry  # noqa: PLC0415 - a slow import

            return MlflowRegistry(settings.require_tracking_uri())
        case RegistryKind.AZUREML:
            from bot.registry.azureml import AzureMLRegistry  # noqa: PLC0415 - Azure SDK

            return AzureMLRegistry(settings.require_azure("the Azure ML registry"))
        case unreachable:
            assert_never(unreachable)


def build_target(kind: TargetKind, settings: Settings) -> Target:
    """The adapter of a target kind, or a `UserInputError` saying what to configure."""
    match kind:
        case TargetKind.LOCAL:
            from bot.targets.local import LocalTarget  # noqa: PLC0415

            return LocalTarget(settings.local_target_url, settings.mlflow_tracking_uri)
        case TargetKind.AZUREML:
            azure = settings.require_azure("deployment target `azureml`")
            from bot.targets.azureml import AzureMLTarget  # noqa: PLC0415 - azure-ai-ml is slow

            return AzureMLTarget(azure)
        case TargetKind.AZURE_DEVOPS:
            devops = settings.require_azure_devops("deployment target `azure-devops`")
            from bot.targets.azure_devops import AzureDevOpsTarget  # noqa: PLC0415

            return AzureDevOpsTarget(devops)
        case unreachable:
            assert_never(unreachable)


class TargetPool:
    """`Callable[[Deployment], Target]`: one adapter per target kind, built when first needed."""

    def __init__(
        self, settings: Settings, factories: Mapping[TargetKind, TargetFactory] | None = None
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
            close_adapter(target)
        self._built.clear()


class RegistryPool:
    """`Callable[[RegistryKind], Registry | None]`: where CD moves environment aliases.

    None for a registry that is not configured: CD then leaves its aliases alone.
    """

    def __init__(
        self, settings: Settings, factories: Mapping[RegistryKind, RegistryFactory] | None = None
    ) -> None:
        self._settings = settings
        self._factories = dict(factories or {})
        self._built: dict[RegistryKind, Registry | None] = {}

    def __call__(self, kind: RegistryKind) -> Registry | None:
        if kind not in self._built:
            factory = self._factories.get(kind)
            self._built[kind] = factory() if factory else self._build(kind)
        return self._built[kind]

    def close(self) -> None:
        """Close the registries that hold connections."""
        for registry in self._built.values():
            if registry is not None:
                close_adapter(registry)
        self._built.clear()

    def _build(self, kind: RegistryKind) -> Registry | None:
        configured = {
            RegistryKind.MLFLOW: self._settings.mlflow_tracking_uri is not None,
            RegistryKind.AZUREML: self._settings.azure is not None,
        }
        return build_registry(kind, self._settings) if configured[kind] else None


def close_adapter(adapter: object) -> None:
    """Release an adapter's connections, if it holds any."""
    close = getattr(adapter, "close", None)
    if callable(close):
        close()


def build_services(settings: Settings, forge: Forge | None = None) -> Services:
    """What the workflows use: the forge, the MLflow registry and where files are."""
    github = settings.require_github()
    return Services(
        forge=forge or build_forge(settings),
        registry=build_registry(RegistryKind.MLFLOW, settings),
        data_root=settings.data_folder,
        templates_root=settings.repo,
        tracking_uri=settings.mlflow_tracking_uri,
        status_context=github.status_context,
        repository=github.repository,
    )


def build_workflows(
    settings: Settings, decisions: DecisionLog | None, forge: Forge | None = None
) -> Workflows:
    """The workflows over the adapters `settings` describe."""
    services = build_services(settings, forge)
    registries: dict[RegistryKind, Registry] = {RegistryKind.MLFLOW: services.registry}

    def registry_for(kind: RegistryKind) -> Registry:
        if kind not in registries:
            registries[kind] = build_registry(kind, settings)
        return registries[kind]

    workflows = Workflows(
        services=services,
        decisions=decisions,
        environments=settings.environments,
        registries=registry_for,
    )
    if settings.apply_on_push:
        workflows = dataclasses.replace(workflows, on_push=_apply_on_push(settings, services))
    return workflows


def _apply_on_push(settings: Settings, services: Services) -> Callable[[Pushed], None]:
    from bot.workflows.apply_on_push import apply_on_push  # noqa: PLC0415 - optional CD

    def on_push(event: Pushed) -> None:
        targets, registries = TargetPool(settings), RegistryPool(settings)
        try:
            apply_on_push(settings.repo, services.forge, targets, registries, event)
        finally:
            targets.close()
            registries.close()

    return on_push


def _report_bug(
    workflows: Workflows, event: DomainEvent, stored: StoredEvent, error: Exception
) -> None:
    try:
        workflows.report_bug(event, stored.delivery_id, stored.id, error)
    except Exception:
        log.exception("event %s: cannot report its failure on the pull request", stored.id)


def build_handler(context: ServiceContext) -> Handler:
    """The handler `promobot serve` runs: each stored event becomes one workflow call."""
    settings = context.settings
    workflows = dataclasses.replace(
        build_workflows(settings, context.store.decisions),
        enqueue=context.store.add,
        on_verdict=context.metrics.record_verdict,
    )

    last_attempt = settings.service.max_attempts
    bot_login = settings.require_github().bot_login
    loops = LoopGuard(settings.service.loop_limit)

    def handle(stored: StoredEvent) -> None:
        event = _EVENTS.validate_python(stored.payload)
        if is_own_write(event, bot_login):
            context.metrics.record_own_write(stored.kind)
            return
        log.info("event %s (%s, delivery %s)", stored.id, stored.kind, stored.delivery_id)
        if stored.key.startswith("pr:"):
            count = loops.record(stored.key)
            if loops.is_loop(count):
                if count == loops.limit + 1:
                    workflows.report_loop(event, count, loops.window_seconds)
                raise ParkEvent(f"{count} events for {stored.key} within a minute: a loop")
        try:
            workflows.handle(event, stored.delivery_id)
        except UserInputError as error:
            # A user's mistake is reported once and never retried.
            context.metrics.record_user_error(stored.kind)
            workflows.report_user_error(event, error)
        except Exception as error:
            if stored.attempts >= last_attempt:
                _report_bug(workflows, event, stored, error)
            raise

    return handle
