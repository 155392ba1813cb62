"""One service for many repositories: each event goes to the repository it belongs to.

A GitHub App has one webhook for every repository of every installation, so a GitHub
event acts only on the repository it came from, with that installation's token; an
event from a repository the bot does not serve is acknowledged and ignored. A registry
event (MLflow, Event Grid) names no repository: it goes to the one whose manifests or
policies claim the model (`bot.domain.claims`); a model two repositories claim is a
configuration error, proposed nowhere until it is fixed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.domain.claims import Claim, RepositoryView, claim
from bot.errors import UserInputError
from bot.webhooks.events import DomainEvent, ModelVersionCreated, Tick
from bot.workflows.dispatch import Workflows
from bot.workflows.inputs import repository_view
from bot.workflows.services import Services

log = logging.getLogger(__name__)


class Repositories(Protocol):
    """The repositories the bot serves, each with its own forge."""

    def services(self, repository: str, installation_id: int | None = None) -> Services | None:
        """What the workflows use for `repository`; None when the bot does not serve it."""
        ...

    def served(self) -> list[Services]:
        """Every repository the bot serves."""
        ...


@dataclass(frozen=True)
class Router:
    """Routes each event to the workflows of its repository."""

    repositories: Repositories
    workflows: Callable[[Services], Workflows]
    environments: tuple[str, ...] = ("production",)
    on_ignored: Callable[[str], None] | None = None
    on_conflict: Callable[[], None] | None = None

    def handle(self, event: DomainEvent, delivery_id: str = "") -> None:
        """Run `event` where it belongs."""
        match event:
            case Tick():
                for services in self.repositories.served():
                    self.workflows(services).handle(event, delivery_id)
            case ModelVersionCreated():
                if event.repo is None:
                    self._propose_where_claimed(event, delivery_id)
                else:
                    self._in(event.repo, None, event, delivery_id)
            case _:
                self._in(event.repo, event.installation_id, event, delivery_id)

    def _in(
        self, repository: str, installation_id: int | None, event: DomainEvent, delivery_id: str
    ) -> None:
        services = self.repositories.services(repository, installation_id)
        if services is None:
            log.info("%s from %s ignored: not a repository promobot serves", event.kind, repository)
            if self.on_ignored is not None:
                self.on_ignored(event.kind)
            return
        self.workflows(services).handle(event, delivery_id)

    def _propose_where_claimed(self, event: ModelVersionCreated, delivery_id: str) -> None:
        served = self.repositories.served()
        environments = (event.environment,) if event.environment else self.environments
        for environment in environments:
            found = self.claim(event.model, environment, served)
            owner = next((s for s in served if s.repository == found.owner), None)
            if owner is None:
                if found.is_conflict:
                    log.error("%s: not proposed, fix the configuration", found.describe())
                    if self.on_conflict is not None:
                        self.on_conflict()
                else:
                    log.info("%s v%s: no repository claims it", event.model, event.version)
                continue
            routed = event.model_copy(update={"environment": environment})
            self.workflows(owner).handle(routed, delivery_id)

    def claim(self, model: str, environment: str, served: list[Services] | None = None) -> Claim:
        """Which served repositories claim (model, environment)."""
        views: dict[str, RepositoryView] = {}
        for services in self.repositories.served() if served is None else served:
            try:
                views[services.repository] = repository_view(services, model, environment)
            except UserInputError as error:
                log.warning("%s cannot claim %s: %s", services.repository, model, error)
        return claim(model, environment, views)

    def report_user_error(self, event: DomainEvent, error: UserInputError) -> None:
        """A user's mistake on a pull request: reported in its repository."""
        for workflows in self._owners(event):
            workflows.report_user_error(event, error)

    def report_loop(self, event: DomainEvent, count: int, seconds: float) -> None:
        """Events of one pull request came too fast: said in its repository."""
        for workflows in self._owners(event):
            workflows.report_loop(event, count, seconds)

    def report_bug(
        self, event: DomainEvent, delivery_id: str, event_id: int, error: Exception
    ) -> None:
        """The event failed its last attempt: said on its pull request."""
        for workflows in self._owners(event):
            workflows.report_bug(event, delivery_id, event_id, error)

    def _owners(self, event: DomainEvent) -> list[Workflows]:
        repository = getattr(event, "repo", None)
        if not isinstance(repository, str):
            return []
        services = self.repositories.services(repository, getattr(event, "installation_id", None))
        return [] if services is None else [self.workflows(services)]


@dataclass(frozen=True)
class OneRepository:
    """The bot serves one repository (token mode, or an App narrowed to one)."""

    only: Services

    def services(self, repository: str, installation_id: int | None = None) -> Services | None:
        """The one repository's services when `repository` is it."""
        del installation_id
        return self.only if repository.lower() == self.only.repository.lower() else None

    def served(self) -> list[Services]:
        """The one repository."""
        return [self.only]


def with_services(workflows: Workflows) -> Callable[[Services], Workflows]:
    """Workflows for any repository, from a template whose services are replaced."""
    return lambda services: dataclasses.replace(workflows, services=services)
