"""A sandbox GitHub holding the repository's policies and a v1 manifest, a real MLflow
registry with v1..v3, and the workflows' environment wired to both over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.manifest import Deployment, ModelManifest, Source
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from bot.formats.writing import dump_manifest
from bot.recipe import Recipe
from bot.registry.mlflow import MlflowRegistry
from bot.workflows.services import Services
from tests.conftest import PROJECT_ROOT
from tests.support.github_sandbox import (
    APP_ID,
    INSTALLATION_ID,
    REPO_NAME,
    GitHubSandbox,
    app_key_pem,
    make_checks,
    start_github_sandbox,
)
from tests.support.mlflow_models import MODEL, TrainedRegistry

BOT_LOGIN = "promobot[bot]"


def team_policy(automerge: bool = True) -> str:
    """The repository's churn-team policy, with the sandbox's team as approvers."""
    text = (PROJECT_ROOT / "policies" / "churn-team.yaml").read_text()
    text = text.replace("teams: [churn-ds]", "teams: [ml-reviewers]")
    if not automerge:
        text = text.replace(
            "automerge: {enabled: true, min_improvement: 0.02}", "automerge: {enabled: false}"
        )
    return text


def champion_manifest(registry: TrainedRegistry) -> str:
    v1 = registry.version(Recipe.BASELINE)
    manifest = ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": MODEL,
            "environment": "production",
            "version": v1.version,
            "source": Source(uri=f"models:/{MODEL}/{v1.version}", run_id=v1.run_id),
            "metrics": {k: round(v, 6) for k, v in v1.metrics.items()},
            "deployment": Deployment(endpoint="churn"),
        }
    )
    return dump_manifest(manifest)


@dataclass
class World:
    """Everything a workflow test touches."""

    sandbox: GitHubSandbox
    registry: TrainedRegistry
    services: Services
    forge: GitHubForge


def make_world(
    tmp_path: Path, sandbox: GitHubSandbox, registry: TrainedRegistry, data: bool
) -> World:
    settings = GitHubSettings(
        base_url=sandbox.base_url,
        repository=REPO_NAME,
        app_id=APP_ID,
        private_key=app_key_pem(),
        installation_id=INSTALLATION_ID,
        bot_login=BOT_LOGIN,
        seconds_between_writes=0,
    )
    forge = GitHubForge(settings)
    data_root = tmp_path / "data"
    if data:
        data_root.mkdir()
        (data_root / "churn-eval.parquet").write_bytes(registry.eval_path.read_bytes())
    services = Services(
        forge=forge,
        registry=MlflowRegistry(registry.tracking_uri),
        data_root=data_root,
        templates_root=None,
        tracking_uri=registry.tracking_uri,
        repository=REPO_NAME,
    )
    return World(sandbox, registry, services, forge)


def repository_content(registry: TrainedRegistry, automerge: bool = True) -> dict[str, str]:
    return {
        "README.md": "# models\n",
        "policies/defaults.yaml": (PROJECT_ROOT / "policies" / "defaults.yaml").read_text(),
        "policies/churn-team.yaml": team_policy(automerge),
        f"model-manifests/production/{MODEL}.yaml": champion_manifest(registry),
    }


@pytest.fixture
def world(
    tmp_path: Path, trained_registry: TrainedRegistry, rest_contract, webhook_contract
) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """Sandbox + registry + workflows, with paired evaluation data available to the bot."""
    content = repository_content(trained_registry)
    with start_github_sandbox(
        tmp_path, make_checks(rest_contract, webhook_contract), content=content
    ) as sandbox:
        world = make_world(tmp_path, sandbox, trained_registry, data=True)
        yield world
        world.forge.close()
