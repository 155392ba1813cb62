"""Where promobot is wired: settings in, adapters and workflows out.

This is the only module that builds a forge, a registry, a target or the workflows;
the command line and the service call it, the workflows receive what it builds. Each
adapter is built the first time something needs it, so a repository without Azure
manifests never needs Azure settings, and a missing Azure configuration fails only
the manifests that deploy there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import assert_never

from pydantic import TypeAdapter

from bot.domain.layout import POLICY_FOLDER, is_yaml
from bot.domain.manifest import Deployment, RegistryKind, TargetKind
from bot.errors import UserInputError
from bot.forge.base import Forge
from bot.registry.base import Registry
from bot.server.handlers import Handler, ParkEvent, ServiceContext
from bot.server.loops import LoopGuard
from bot.settings import Settings
from bot.signing import SshSigner
from bot.store.base import DecisionLog, StoredEvent
from bot.targets.base import Target
from bot.webhooks.events import DomainEvent, Pushed, is_own_write
from bot.workflows.dispatch import Workflows
from bot.workflows.gate_memory import GateMemory
from bot.workflows.inputs import utcnow
from bot.workflows.routing import OneRepository, Repositories, Router
from bot.workflows.services import Services
from bot.workflows.stages import health_from

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
    """What the workflows use for one repository: its forge, the MLflow registry, files."""
    chosen = forge or build_forge(settings)
    return Services(
        forge=chosen,
        registry=build_registry(RegistryKind.MLFLOW, settings),
        data_root=settings.data_folder,
        templates_root=settings.repo,
        tracking_uri=settings.mlflow_tracking_uri,
        repository=chosen.repository,
        sign_record=_record_signer(settings),
    )


def _record_signer(settings: Settings) -> Callable[[str], str] | None:
    if settings.record_signing_key is None:
        return None
    signer = SshSigner(settings.record_signing_key)
    signer.check()
    return signer.sign


class ServedRepositories:
    """The repositories of the App's installations that hold `policies/`, each with a forge
    acting with its own installation's token (`Repositories` of `bot.workflows.routing`).

    A repository is looked at when an event first names it, and the App's installations
    are listed again every `refresh_seconds`; `PROMOBOT_GITHUB__REPOSITORIES` narrows both.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        refresh_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._github = settings.require_github()
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._known: dict[str, tuple[Services | None, float]] = {}
        self._listed_at: float | None = None
        self._lock = threading.RLock()

    def services(self, repository: str, installation_id: int | None = None) -> Services | None:
        """The repository's services; None when it is not served (or holds no policies)."""
        if not self._github.serves(repository):
            return None
        key = repository.lower()
        with self._lock:
            found = self._known.get(key)
            fresh = found is not None and (
                found[0] is not None or self._clock() - found[1] < self._refresh_seconds
            )
            if found is not None and fresh:
                return found[0]
            services = self._look_at(repository, installation_id)
            self._known[key] = (services, self._clock())
            return services

    def served(self) -> list[Services]:
        """Every served repository, the installations listed again when it is time."""
        with self._lock:
            due = (
                self._listed_at is None or self._clock() - self._listed_at >= self._refresh_seconds
            )
            if due:
                from bot.forge.installations import list_installations  # noqa: PLC0415

                for installation in list_installations(self._github):
                    for name in installation.repositories:
                        self.services(name, installation.id)
                self._listed_at = self._clock()
            return [found for found, _ in self._known.values() if found is not None]

    def close(self) -> None:
        """Release every repository's forge."""
        with self._lock:
            for found, _ in self._known.values():
                if found is not None:
                    close_adapter(found.forge)
            self._known.clear()

    def _look_at(self, repository: str, installation_id: int | None) -> Services | None:
        from bot.forge.github import GitHubForge  # noqa: PLC0415 - PyGithub only when used

        forge = GitHubForge(self._github, repository=repository, installation_id=installation_id)
        if not [p for p in forge.list_files(POLICY_FOLDER) if is_yaml(p)]:
            log.info("%s holds no %s/: not served", repository, POLICY_FOLDER)
            close_adapter(forge)
            return None
        log.info("serving %s", repository)
        return build_services(self._settings, forge)


def build_repositories(settings: Settings) -> Repositories:
    """The repositories the service acts on: the one of a token, or an App's installations."""
    github = settings.require_github()
    if github.uses_app:
        return ServedRepositories(settings)
    return OneRepository(build_services(settings))


def build_workflows(
    settings: Settings, decisions: DecisionLog | None, forge: Forge | None = None
) -> Workflows:
    """The workflows of one repository (the settings' own, or `forge`'s)."""
    return workflows_factory(settings, decisions)(build_services(settings, forge))


def workflows_factory(
    settings: Settings,
    decisions: DecisionLog | None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Callable[[Services], Workflows]:
    """Builds the workflows of any served repository; registries are shared by all."""
    registries: dict[RegistryKind, Registry] = {}

    def registry_for(kind: RegistryKind) -> Registry:
        if kind not in registries:
            registries[kind] = build_registry(kind, settings)
        return registries[kind]

    on_push = _apply_on_push(settings) if settings.apply_on_push else None
    memory = GateMemory()
    health = health_from(TargetPool(settings))

    def build(services: Services) -> Workflows:
        return Workflows(
            services=services,
            decisions=decisions,
            environments=settings.environments,
            registries=registry_for,
            on_push=on_push,
            memory=memory,
            health=health,
            clock=clock,
        )

    return build


def _apply_on_push(settings: Settings) -> Callable[[Pushed], None]:
    from bot.workflows.apply_on_push import apply_on_push  # noqa: PLC0415 - optional CD

    checkout_of = settings.require_github().repository
    if checkout_of is None:
        raise UserInputError(
            "PROMOBOT_APPLY_ON_PUSH applies the bot's checkout (PROMOBOT_REPO) of one repository",
            hint="name it in PROMOBOT_GITHUB__REPOSITORY, or run CD with .github/workflows/cd.yml",
        )
    forges: dict[str, Forge] = {}

    def on_push(event: Pushed) -> None:
        if event.repo.lower() != checkout_of.lower():
            return
        if checkout_of not in forges:
            forges[checkout_of] = build_forge(settings)
        targets, registries = TargetPool(settings), RegistryPool(settings)
        try:
            apply_on_push(settings.repo, forges[checkout_of], targets, registries, event)
        finally:
            targets.close()
            registries.close()

    return on_push


def _report_bug(router: Router, event: DomainEvent, stored: StoredEvent, error: Exception) -> None:
    try:
        router.report_bug(event, stored.delivery_id, stored.id, error)
    except Exception:
        log.exception("event %s: cannot report its failure on the pull request", stored.id)


def build_handler(context: ServiceContext) -> Handler:
    """The handler `promobot serve` runs: each stored event goes to its repository's
    workflows."""
    settings = context.settings
    make = workflows_factory(settings, context.store.decisions)
    router = Router(
        repositories=build_repositories(settings),
        workflows=lambda services: dataclasses.replace(
            make(services), enqueue=context.store.add, on_verdict=context.metrics.record_verdict
        ),
        environments=settings.environments,
        on_ignored=context.metrics.record_foreign_event,
        on_conflict=context.metrics.record_claim_conflict,
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
                    router.report_loop(event, count, loops.window_seconds)
                raise ParkEvent(f"{count} events for {stored.key} within a minute: a loop")
        try:
            router.handle(event, stored.delivery_id)
        except UserInputError as error:
            # A user's mistake is reported once and never retried.
            context.metrics.record_user_error(stored.kind)
            router.report_user_error(event, error)
        except Exception as error:
            if stored.attempts >= last_attempt:
                _report_bug(router, event, stored, error)
            raise

    return handle
