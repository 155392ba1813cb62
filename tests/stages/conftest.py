"""A repository whose churn models go through staging before production: the sandbox
GitHub (HTTP, PyGithub) with v1 in both stages, a real MLflow registry with v1..v3, and
the service's workflows with an injected clock and the scoring server's health readings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.domain.manifest import ModelManifest, RegistryKind
from bot.domain.verification import HealthSample
from bot.recipe import Recipe
from bot.store.sql import SqlEventStore
from bot.webhooks.events import CommentCreated, ModelVersionCreated, Tick
from bot.workflows.dispatch import Workflows
from bot.workflows.gate import gate
from tests.support.github_sandbox import REPO_NAME, make_checks, start_github_sandbox
from tests.support.mlflow_models import MODEL, TrainedRegistry
from tests.workflows.conftest import World, champion_manifest, make_world, team_policy

PATH_POLICY = """\
apiVersion: promobot/v1
kind: PromotionPolicy
name: churn-path
description: Churn classifiers serve a day in staging before production.
applies_to: {models: ["churn-*"], environments: [staging, production]}
stages:
  - {environment: staging, soak_minutes: 60, verify: true}
  - {environment: production}
"""

STAGING_POLICY = """\
apiVersion: promobot/v1
kind: PromotionPolicy
name: churn-staging
description: Staging takes any version that does not fail outright; production decides.
applies_to: {models: ["churn-*"], environments: [staging]}
compare:
  primary: {metric: f1, significance: null}
approval:
  required_approvals: 1
  teams: [ml-reviewers]
  owners: [ml-reviewers]
  automerge: {enabled: true}
verify: {window_minutes: 30, max_error_rate: 0.01, on_failure: revert}
"""


def staged_content(registry: TrainedRegistry) -> dict[str, str]:
    production = champion_manifest(registry)
    staging = production.replace("environment: production", "environment: staging")
    team = team_policy().replace(
        "environments: [production, staging]", "environments: [production]"
    )
    return {
        "README.md": "# models\n",
        "policies/defaults.yaml": (
            Path(__file__).parents[2] / "policies" / "defaults.yaml"
        ).read_text(),
        "policies/churn-team.yaml": team,
        "policies/churn-staging.yaml": STAGING_POLICY,
        "policies/churn-path.yaml": PATH_POLICY,
        f"model-manifests/production/{MODEL}.yaml": production,
        f"model-manifests/staging/{MODEL}.yaml": staging,
    }


@dataclass
class Health:
    """What the scoring server reports, per version: the readings a test sets."""

    readings: dict[str, HealthSample] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def __call__(self, manifest: ModelManifest) -> list[HealthSample]:
        self.asked.append(f"{manifest.environment}:{manifest.version}")
        found = self.readings.get(manifest.version)
        return [] if found is None else [found]

    def serve(self, version: str, requests: int, errors: int, p99: float = 40.0) -> None:
        self.readings[version] = HealthSample(
            version=version, requests=requests, errors=errors, p99_latency_ms=p99
        )


@dataclass
class Staged:
    """The world, the service's workflows and the time they see."""

    world: World
    store: SqlEventStore
    health: Health
    now: dt.datetime
    workflows: Workflows = field(init=False)

    def __post_init__(self) -> None:
        self.workflows = Workflows(
            services=self.world.services,
            decisions=self.store.decisions,
            environments=("production",),
            health=self.health,
            clock=lambda: self.now,
        )

    def version(self, recipe: Recipe) -> str:
        return self.world.registry.version(recipe).version

    def registered(self, recipe: Recipe) -> None:
        """MLflow's webhook for a new version, as the service receives it."""
        self.workflows.handle(
            ModelVersionCreated(
                registry=RegistryKind.MLFLOW, model=MODEL, version=self.version(recipe)
            )
        )

    def tick(self) -> None:
        self.workflows.handle(Tick(now=self.now))

    def approve_and_merge(self, number: int) -> dt.datetime:
        """carol (ml-reviewers) approves; the gate merges. When GitHub says it merged."""
        pull = self.world.sandbox.github("carol").get_repo(REPO_NAME).get_pull(number)
        pull.create_review(commit=pull.head.repo.get_commit(pull.head.sha), event="APPROVE")
        result = gate(self.world.services, number, self.now)
        assert result.merged_sha is not None, result.detail
        merged = self.world.forge.get_pull_request(number, with_files=False)
        assert merged.merged_at is not None
        return merged.merged_at

    def comment(self, login: str, number: int, body: str) -> None:
        issue = self.world.sandbox.github(login).get_repo(REPO_NAME).get_issue(number)
        made = issue.create_comment(body)
        self.workflows.handle(
            CommentCreated(
                repo=REPO_NAME,
                number=number,
                user=login,
                body=body,
                comment_id=made.id,
                is_pull_request=True,
            )
        )

    def open_promotions(self, environment: str) -> list[int]:
        branch = f"promobot/{environment}/{MODEL}"
        return [
            pr.number
            for pr in self.world.forge.list_promotion_pull_requests()
            if pr.head_ref == branch
        ]


@pytest.fixture
def staged(
    tmp_path: Path, trained_registry: TrainedRegistry, rest_contract, webhook_contract
) -> Iterator[Staged]:  # type: ignore[no-untyped-def]
    content = staged_content(trained_registry)
    with start_github_sandbox(
        tmp_path, make_checks(rest_contract, webhook_contract), content=content
    ) as sandbox:
        world = make_world(tmp_path, sandbox, trained_registry, data=True)
        store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
        yield Staged(world, store, Health(), dt.datetime.now(dt.UTC))
        store.close()
        world.forge.close()
