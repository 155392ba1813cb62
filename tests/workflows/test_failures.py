"""A user's mistake is reported once and never retried; the unexpected is retried, then told."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bot.domain.manifest import RegistryKind
from bot.errors import UserInputError
from bot.forge.github import GitHubForge
from bot.recipe import Recipe
from bot.server.metrics import ProcessingOutcome, ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.server.worker import WorkerPool
from bot.store.base import StoredEvent
from bot.store.sql import SqlEventStore
from bot.webhooks.events import ModelVersionCreated, PullRequestChanged
from bot.workflows.dispatch import Workflows
from bot.workflows.failures import REFUSED
from bot.workflows.propose import propose
from tests.support.github_sandbox import REPO_NAME
from tests.support.mlflow_models import MODEL
from tests.workflows.conftest import World

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
ENV = "production"


def _workflows(world: World, store: SqlEventStore) -> Workflows:
    return Workflows(services=world.services, decisions=store.decisions)


def _version_event(model: str, version: str) -> ModelVersionCreated:
    return ModelVersionCreated(registry=RegistryKind.MLFLOW, model=model, version=version)


@pytest.mark.parametrize(
    ("model", "version"),
    [("x..", "1"), ("x.lock", "1"), ("x.", "1"), ("../../etc", "1"), (MODEL, "1..2")],
)
def test_a_name_git_refuses_is_a_decision_recorded_once(
    world: World, tmp_path: Path, model: str, version: str
) -> None:
    """MLflow accepts such names; the bot refuses them before any work, and only once."""
    store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
    workflows = _workflows(world, store)
    world.people.clear_requests()

    workflows.handle(_version_event(model, version))
    workflows.handle(_version_event(model, version))

    decision = store.decisions.get("mlflow", model, version, ENV)
    assert decision is not None and decision.outcome == REFUSED
    assert repr(model if model != MODEL else version) in decision.detail
    asked = world.people.repository_requests()
    assert asked == [], "a refused name must not reach the repository"
    store.close()


def test_a_broken_policy_on_main_refuses_the_version_once_and_says_so_on_the_pull_request(
    world: World, tmp_path: Path
) -> None:
    """A user's mistake is not retried five times: the decision is recorded with the reason,
    and the open promotion pull request hears about it."""
    store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
    better = world.registry.version(Recipe.BETTER).version
    opened = propose(world.services, store.decisions, MODEL, better, ENV, NOW).pull_request
    assert opened is not None
    world.people.commit_file(
        "alice", "main", "policies/churn-team.yaml", "compare: [", "Break the policy"
    )
    worse = world.registry.version(Recipe.WORSE).version
    workflows = _workflows(world, store)

    workflows.handle(_version_event(MODEL, worse))
    workflows.handle(_version_event(MODEL, worse))

    decision = store.decisions.get("mlflow", MODEL, worse, ENV)
    assert decision is not None and decision.outcome == REFUSED
    assert "policies/churn-team.yaml" in decision.detail
    comments = [c.body for c in world.forge.list_comments(opened.number)]
    refused = [c for c in comments if f"promobot:refused:{MODEL}:{worse}" in c]
    assert len(refused) == 1
    assert "policies/churn-team.yaml" in refused[0]
    store.close()


@pytest.mark.parametrize("world", ["sandbox"], indirect=True)
def test_an_unexpected_failure_is_retried_then_told_on_the_pull_request(
    world: World, tmp_path: Path
) -> None:
    """The last failed attempt leaves a comment that names the delivery and the event."""
    better = world.registry.version(Recipe.BETTER).version
    opened = propose(world.services, None, MODEL, better, ENV, NOW).pull_request
    assert opened is not None
    store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
    settings = ServiceSettings(state_dir=tmp_path, max_attempts=2, retry_base_seconds=0.01)
    # A forge that does not retry by itself, so each attempt fails at once.
    assert isinstance(world.forge, GitHubForge) and world.sandbox is not None
    forge = GitHubForge(world.forge._settings.model_copy(update={"retry_total": 0}))
    workflows = Workflows(
        services=dataclasses.replace(world.services, forge=forge), decisions=store.decisions
    )
    # Every read of the pull request's reviews fails: a fault promobot cannot fix.
    world.sandbox.add_fault(rf"/pulls/{opened.number}/reviews", 500, method="GET", count=100)

    def handler(stored: StoredEvent) -> None:
        event = PullRequestChanged.model_validate(stored.payload)
        try:
            workflows.handle(event, stored.delivery_id)
        except Exception as error:
            if stored.attempts >= settings.max_attempts:
                workflows.report_bug(event, stored.delivery_id, stored.id, error)
            raise

    event = PullRequestChanged(
        repo=REPO_NAME,
        number=opened.number,
        action="labeled",
        head_sha=opened.head_sha,
        head_ref=opened.head_ref,
        base_ref=opened.base_ref,
    )
    store.add(
        "delivery-77", "github", event.kind, event.serialisation_key, event.model_dump(mode="json")
    )
    pool = WorkerPool(store, handler, settings, ServiceMetrics())
    outcomes = []
    for _ in range(settings.max_attempts):
        claimed = None
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
        while claimed is None and dt.datetime.now(dt.UTC) < deadline:
            claimed = store.claim("test", 30)
        assert claimed is not None
        outcomes.append(pool.process(claimed))
    assert outcomes == [ProcessingOutcome.RETRY, ProcessingOutcome.PARKED]
    comments = [c.body for c in world.forge.list_comments(opened.number)]
    told = [c for c in comments if "promobot:bug:delivery-77" in c]
    assert len(told) == 1
    assert "delivery-77" in told[0] and "promobot events replay" in told[0]
    forge.close()
    store.close()


def test_a_user_error_from_a_workflow_is_reported_not_raised(world: World, tmp_path: Path) -> None:
    """The service's handler turns a `UserInputError` into a report, so the worker completes it."""
    better = world.registry.version(Recipe.BETTER).version
    opened = propose(world.services, None, MODEL, better, ENV, NOW).pull_request
    assert opened is not None
    store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
    workflows = _workflows(world, store)
    event = PullRequestChanged(
        repo=REPO_NAME,
        number=opened.number,
        action="labeled",
        head_sha=opened.head_sha,
        head_ref=opened.head_ref,
        base_ref=opened.base_ref,
    )
    workflows.report_user_error(event, UserInputError("policies/x.yaml:3:1: compare: bad"))
    checks = world.forge.get_checks(opened.head_sha)
    assert checks.is_passing("promobot/policy") is False
    store.close()
