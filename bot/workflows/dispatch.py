"""The service's handler: each stored event becomes a call to one workflow.

`promobot serve` builds it with `build_workflow_handler`. Events are parsed
minimally by `bot.webhooks`; here they are routed. Every workflow is safe to
repeat, since a crashed worker's event is handled again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from bot.domain.manifest import RegistryKind
from bot.errors import UserInputError
from bot.forge.base import Forge, PullRequestInfo, promotion_of
from bot.forge.github import GitHubForge
from bot.registry.base import Registry
from bot.registry.mlflow import MlflowRegistry
from bot.server.handlers import Handler, ServiceContext
from bot.settings import Settings, load_settings
from bot.store.base import DecisionLog, StoredEvent
from bot.webhooks.events import (
    CheckRunCompleted,
    CommentCreated,
    DomainEvent,
    ModelVersionCreated,
    PullRequestChanged,
    Pushed,
    ReviewSubmitted,
    StatusChanged,
    Tick,
)
from bot.workflows.commands import handle_comment
from bot.workflows.gate import gate
from bot.workflows.inputs import Environment, utcnow
from bot.workflows.propose import propose
from bot.workflows.recheck import recheck
from bot.workflows.reconcile import propose_missed_versions

log = logging.getLogger(__name__)
_EVENTS: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)

RECHECK_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
RECOMPUTE = "promobot_recompute"
"""Action of the follow-up events the handler queues to gate a pull request under its key."""

Enqueue = Callable[[str, str, str, str, dict[str, Any]], bool]
"""`EventStore.add(delivery_id, source, kind, key, payload)`."""


@dataclass(frozen=True)
class Workflows:
    """The workflows with their dependencies, as the handler calls them."""

    env: Environment
    decisions: DecisionLog | None
    settings: Settings
    on_push: Callable[[Pushed], None] | None = None
    enqueue: Enqueue | None = None
    on_verdict: Callable[[str], None] | None = None
    registries: Callable[[RegistryKind], Registry] | None = None
    clock: Callable[[], dt.datetime] = utcnow

    def handle(self, event: DomainEvent, delivery_id: str = "") -> None:
        """Route one event; `delivery_id` names the work it fans out."""
        now = self.clock()
        match event:
            case ModelVersionCreated():
                self._propose(event, now)
            case PullRequestChanged():
                self._pull_request(event, now)
            case ReviewSubmitted():
                gate(self.env, event.number, now)
            case CommentCreated():
                if event.is_pull_request:
                    handle_comment(
                        self.env,
                        event.number,
                        event.user,
                        event.body,
                        now,
                        comment_id=event.comment_id,
                    )
            case StatusChanged():
                self._gate_heads({event.sha}, now, delivery_id)
            case CheckRunCompleted():
                self._check_run(event, now)
            case Pushed() if self.on_push is not None:
                self.on_push(event)
            case Tick():
                self._tick(now)

    def _propose(self, event: ModelVersionCreated, now: dt.datetime) -> None:
        env = self.env
        if event.registry is not RegistryKind.MLFLOW and self.registries is not None:
            env = dataclasses.replace(env, registry=self.registries(event.registry))
        environments = (event.environment,) if event.environment else self.settings.environments
        for environment in environments:
            result = propose(
                env,
                self.decisions,
                event.model,
                event.version,
                environment,
                now,
                event.registry.value,
            )
            if result.verdict is not None and self.on_verdict is not None:
                self.on_verdict(result.verdict.verdict.value)

    def _pull_request(self, event: PullRequestChanged, now: dt.datetime) -> None:
        pr = None
        if event.action in RECHECK_ACTIONS:
            pr = self.env.forge.get_pull_request(event.number)
            # The bot's own commits carry the verdict already; a person's push needs a new one.
            if _is_promotion(pr) and pr.head_sha == event.head_sha and _no_verdict(self.env, pr):
                recheck(self.env, pr)
        if event.action in RECHECK_ACTIONS | {"labeled", "unlabeled", RECOMPUTE}:
            gate(self.env, event.number, now, pr=pr)

    def _check_run(self, event: CheckRunCompleted, now: dt.datetime) -> None:
        for number in event.pull_numbers:
            gate(self.env, number, now)
        if not event.pull_numbers:
            self._gate_heads({event.head_sha}, now, "")

    def _gate_heads(self, shas: set[str] | None, now: dt.datetime, delivery_id: str) -> None:
        """Gate the promotion pull requests whose head is in `shas` (all when None).

        With a store, the work is queued under each pull request's own key, so
        it never runs beside another event of the same pull request.
        """
        for pr in self.env.forge.list_promotion_pull_requests():
            if shas is not None and pr.head_sha not in shas:
                continue
            if self.enqueue is None or not delivery_id:
                gate(self.env, pr.number, now)
                continue
            follow_up = PullRequestChanged(
                repo=self.env.repository,
                number=pr.number,
                action=RECOMPUTE,
                head_sha=pr.head_sha,
                head_ref=pr.head_ref,
                base_ref=pr.base_ref,
            )
            self.enqueue(
                f"{delivery_id}:pr{pr.number}@{pr.head_sha[:12]}",
                "promobot",
                follow_up.kind,
                follow_up.serialisation_key,
                follow_up.model_dump(mode="json"),
            )

    def _tick(self, now: dt.datetime) -> None:
        """Deploy windows open with time; versions whose webhook was lost get proposed."""
        self._gate_heads(None, now, f"tick:{now:%Y%m%dT%H%M%S}")
        propose_missed_versions(self.env, self.decisions, self.settings.environments, now)


def _no_verdict(env: Environment, pr: PullRequestInfo) -> bool:
    return env.forge.get_checks(pr.head_sha).is_passing(env.status_context) is None


def _is_promotion(pr: PullRequestInfo) -> bool:
    return promotion_of(pr.head_ref) is not None


def workflows_from_settings(
    settings: Settings, decisions: DecisionLog | None, forge: Forge | None = None
) -> Workflows:
    """Build the forge, the registry and the workflows' environment."""
    github = settings.require_github()
    tracking_uri = settings.require_tracking_uri()
    env = Environment(
        forge=forge or GitHubForge(github),
        registry=MlflowRegistry(tracking_uri),
        data_root=settings.data_root or settings.repo,
        templates_root=settings.repo,
        tracking_uri=tracking_uri,
        status_context=settings.status_context,
        repository=github.repository,
    )
    return Workflows(env=env, decisions=decisions, settings=settings)


def build_workflow_handler(context: ServiceContext) -> Handler:
    """The handler `promobot serve` runs: events → workflows."""
    settings = load_settings()
    workflows = workflows_from_settings(settings, context.store.decisions)
    workflows = dataclasses.replace(
        workflows,
        enqueue=context.store.add,
        on_verdict=context.metrics.record_verdict,
        registries=_registry_for,
    )
    if settings.apply_on_push:
        workflows = _with_apply(workflows)

    def handle(stored: StoredEvent) -> None:
        event = _EVENTS.validate_python(stored.payload)
        log.info("event %s (%s, delivery %s)", stored.id, stored.kind, stored.delivery_id)
        workflows.handle(event, stored.delivery_id)

    return handle


def _registry_for(kind: RegistryKind) -> Registry:
    """Registries other than MLflow, built when an event names one (Azure ML from Event Grid)."""
    if kind is RegistryKind.AZUREML:
        from bot.registry.azureml import AzureMLRegistry  # noqa: PLC0415 - Azure SDK only when used
        from bot.targets.azure_settings import AzureSettings  # noqa: PLC0415

        return AzureMLRegistry(AzureSettings())
    raise UserInputError(f"no registry adapter for {kind.value!r}")


def _with_apply(workflows: Workflows) -> Workflows:
    from bot.workflows.apply_on_push import apply_on_push  # noqa: PLC0415 - optional CD wiring

    def on_push(event: Pushed) -> None:
        apply_on_push(workflows.settings, workflows.env.forge, event)

    return dataclasses.replace(workflows, on_push=on_push)
