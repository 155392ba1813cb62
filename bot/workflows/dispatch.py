"""The service's handler: each stored event becomes a call to one workflow.

`bot.app` builds it and hands it the stored events. Events are parsed minimally by
`bot.webhooks`; here they are routed. Every workflow is safe to repeat, since a
crashed worker's event is handled again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.domain.layout import promotion_of
from bot.domain.manifest import RegistryKind
from bot.domain.naming import proposal_problem
from bot.domain.record import SkippedSoak
from bot.errors import UserInputError
from bot.forge.base import PullRequestInfo
from bot.registry.base import Registry
from bot.store.base import DecisionLog
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
from bot.workflows.failures import (
    refuse_version,
    report_bug,
    report_loop,
    report_user_error,
)
from bot.workflows.gate import GateResult, gate
from bot.workflows.gate_memory import GateMemory
from bot.workflows.inputs import utcnow
from bot.workflows.propose import ProposeResult, propose
from bot.workflows.recheck import recheck
from bot.workflows.reconcile import propose_missed_versions
from bot.workflows.services import Services
from bot.workflows.simulate import simulate_pull_request
from bot.workflows.stages import (
    HealthReader,
    advance_stages,
    entry_environment,
    policies_or_none,
)

log = logging.getLogger(__name__)

RECHECK_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
RECOMPUTE = "promobot_recompute"
"""Action of the follow-up events the handler queues to gate a pull request under its key."""
TICK_RECOMPUTE = "promobot_tick"
"""The same, queued by the clock: a merge GitHub refused on the head is not tried again."""

Enqueue = Callable[[str, str, str, str, dict[str, Any]], bool]
"""`EventStore.add(delivery_id, source, kind, key, payload)`."""


@dataclass(frozen=True)
class Workflows:
    """The workflows with their dependencies, as the handler calls them."""

    services: Services
    decisions: DecisionLog | None
    environments: tuple[str, ...] = ("production",)
    on_push: Callable[[Pushed], None] | None = None
    enqueue: Enqueue | None = None
    on_verdict: Callable[[str], None] | None = None
    registries: Callable[[RegistryKind], Registry] | None = None
    memory: GateMemory | None = None
    health: HealthReader | None = None
    """What serves each version reports (requests, errors, p99), for the stages' verification."""
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
                gate(self.services, event.number, now)
            case CommentCreated():
                if event.is_pull_request:
                    handle_comment(
                        self.services,
                        event.number,
                        event.user,
                        event.body,
                        now,
                        comment_id=event.comment_id,
                        advance=self._advance,
                    )
            case StatusChanged():
                self._gate_heads({event.sha}, now, delivery_id)
            case CheckRunCompleted():
                self._check_run(event, now)
            case Pushed() if self.on_push is not None:
                self.on_push(event)
            case Tick():
                self._tick(now)

    def report_user_error(self, event: DomainEvent, error: UserInputError) -> None:
        """A user's mistake the workflows did not handle themselves: report it once."""
        report_user_error(self.services, event, error)

    def report_loop(self, event: DomainEvent, count: int, seconds: float) -> None:
        """Events of one pull request came too fast: say so once."""
        report_loop(self.services, event, count, seconds)

    def report_bug(
        self, event: DomainEvent, delivery_id: str, event_id: int, error: Exception
    ) -> None:
        """The event failed its last attempt: say so on its pull request."""
        report_bug(self.services, event, delivery_id, event_id, error)

    def _propose(self, event: ModelVersionCreated, now: dt.datetime) -> None:
        wanted = (event.environment,) if event.environment else self.environments
        named = []
        for environment in wanted:
            # A name git refuses is refused before anything reads the repository for it.
            problem = proposal_problem(event.model, event.version, environment)
            if problem is None:
                named.append(environment)
                continue
            refuse_version(
                self.services, self.decisions, event, environment, problem, tell_pull_request=False
            )
        policies = policies_or_none(self.services) if named else None
        for environment in dict.fromkeys(
            entry_environment(policies, event.model, e) for e in named
        ):
            try:
                services = self.services
                if event.registry is not RegistryKind.MLFLOW and self.registries is not None:
                    services = dataclasses.replace(
                        services, registry=self.registries(event.registry)
                    )
                result = propose(
                    services,
                    self.decisions,
                    event.model,
                    event.version,
                    environment,
                    now,
                    event.registry.value,
                )
            except UserInputError as error:
                refuse_version(self.services, self.decisions, event, environment, str(error))
                continue
            if result.verdict is not None and self.on_verdict is not None:
                self.on_verdict(result.verdict.verdict.value)

    def _pull_request(self, event: PullRequestChanged, now: dt.datetime) -> None:
        pr = None
        if event.action in RECHECK_ACTIONS:
            pr = self.services.forge.get_pull_request(event.number)
            # The bot's own commits carry the verdict already; a person's push needs a new one.
            is_current = pr.head_sha == event.head_sha
            if _is_promotion(pr) and is_current and _no_verdict(self.services, pr):
                recheck(self.services, pr)
            if not _is_promotion(pr) and is_current and pr.state.value == "open":
                simulate_pull_request(self.services, pr)  # a change to policies/
        if event.action in RECHECK_ACTIONS | {"labeled", "unlabeled", RECOMPUTE, TICK_RECOMPUTE}:
            self._gate(event.number, now, pr=pr, retry_refused=event.action != TICK_RECOMPUTE)

    def _gate(
        self,
        number: int,
        now: dt.datetime,
        *,
        pr: PullRequestInfo | None = None,
        retry_refused: bool = True,
    ) -> GateResult:
        result = gate(self.services, number, now, pr=pr, retry_refused=retry_refused)
        if self.memory is not None and result.head_sha is not None:
            next_look = None if result.readiness is None else result.readiness.next_evaluation_at
            self.memory.note(self.services.repository, number, result.head_sha, now, next_look)
        return result

    def _check_run(self, event: CheckRunCompleted, now: dt.datetime) -> None:
        for number in event.pull_numbers:
            self._gate(number, now)
        if not event.pull_numbers:
            self._gate_heads({event.head_sha}, now, "")

    def _gate_heads(
        self, shas: set[str] | None, now: dt.datetime, delivery_id: str, *, tick: bool = False
    ) -> None:
        """Gate the promotion pull requests whose head is in `shas` (all when None); on a
        `tick`, only those whose readiness may have changed with time.

        With a store, the work is queued under each pull request's own key, so
        it never runs beside another event of the same pull request.
        """
        repository = self.services.repository
        for pr in self.services.forge.list_promotion_pull_requests():
            if shas is not None and pr.head_sha not in shas:
                continue
            settled = self.memory is not None and self.memory.is_settled(
                repository, pr.number, pr.head_sha, now
            )
            if tick and settled:
                continue
            if self.enqueue is None or not delivery_id:
                self._gate(pr.number, now, pr=pr, retry_refused=not tick)
                continue
            follow_up = PullRequestChanged(
                repo=repository,
                number=pr.number,
                action=TICK_RECOMPUTE if tick else RECOMPUTE,
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
        self._gate_heads(None, now, f"tick:{now:%Y%m%dT%H%M%S}", tick=True)
        propose_missed_versions(self.services, self.decisions, self.environments, now)
        advance_stages(self.services, self.decisions, self.health, now)

    def _advance(self, model: str, environment: str, skipped: SkippedSoak) -> list[ProposeResult]:
        """A policy owner's `/promobot promote --skip-soak`: the version goes on now."""
        return advance_stages(
            self.services,
            self.decisions,
            self.health,
            self.clock(),
            only=(model, environment),
            skipped_soak=skipped,
        )


def _no_verdict(services: Services, pr: PullRequestInfo) -> bool:
    return services.forge.get_checks(pr.head_sha).verdict() is None


def _is_promotion(pr: PullRequestInfo) -> bool:
    return promotion_of(pr.head_ref) is not None
