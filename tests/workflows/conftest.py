"""A GitHub repository holding the policies and a v1 manifest, a real MLflow registry with
v1..v3, and the workflows' services wired to both.

The forge is the in-memory one unless a test asks for the sandbox GitHub (HTTP, PyGithub):
`@pytest.mark.parametrize("world", FORGE_KINDS, indirect=True)` runs a test on both,
`["sandbox"]` on the sandbox alone. People act through `world.people` either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.manifest import Deployment, ModelManifest, Source
from bot.forge.base import Forge
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from bot.formats.writing import dump_manifest
from bot.recipe import Recipe
from bot.registry.mlflow import MlflowRegistry
from bot.workflows.services import Services
from tests.conftest import PROJECT_ROOT
from tests.support.forge_sites import ForgeKind, MemoryPeople, People, SandboxPeople
from tests.support.github_sandbox import (
    APP_ID,
    INSTALLATION_ID,
    REPO_NAME,
    GitHubSandbox,
    app_key_pem,
    make_checks,
    start_github_sandbox,
)
from tests.support.memory_forge import MemoryForge
from tests.support.memory_github import MemoryGitHub
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
    """Everything a workflow test touches: `sandbox` is None on the in-memory forge."""

    sandbox: GitHubSandbox | None
    registry: TrainedRegistry
    services: Services
    forge: Forge
    people: People
    kind: ForgeKind = "sandbox"


def make_services(tmp_path: Path, forge: Forge, registry: TrainedRegistry, data: bool) -> Services:
    data_root = tmp_path / "data"
    if data:
        data_root.mkdir()
        (data_root / "churn-eval.parquet").write_bytes(registry.eval_path.read_bytes())
    return Services(
        forge=forge,
        registry=MlflowRegistry(registry.tracking_uri),
        data_root=data_root,
        templates_root=None,
        tracking_uri=registry.tracking_uri,
        repository=REPO_NAME,
    )


def make_world(
    tmp_path: Path, sandbox: GitHubSandbox, registry: TrainedRegistry, data: bool
) -> World:
    """The workflows on the sandbox GitHub, through the App's `GitHubForge` (close it)."""
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
    services = make_services(tmp_path, forge, registry, data)
    return World(sandbox, registry, services, forge, SandboxPeople(sandbox))


def memory_world(
    tmp_path: Path, content: dict[str, str], registry: TrainedRegistry, data: bool
) -> World:
    """The workflows on the in-memory forge, the App's view of a repository of `content`."""
    github = MemoryGitHub(content=content)
    forge = MemoryForge(github)
    services = make_services(tmp_path, forge, registry, data)
    return World(None, registry, services, forge, MemoryPeople(github), kind="memory")


def repository_content(registry: TrainedRegistry, automerge: bool = True) -> dict[str, str]:
    return {
        "README.md": "# models\n",
        "policies/defaults.yaml": (PROJECT_ROOT / "policies" / "defaults.yaml").read_text(),
        "policies/churn-team.yaml": team_policy(automerge),
        f"model-manifests/production/{MODEL}.yaml": champion_manifest(registry),
    }


@pytest.fixture
def world(
    request: pytest.FixtureRequest, tmp_path: Path, trained_registry: TrainedRegistry
) -> Iterator[World]:
    """Repository + registry + workflows, with paired evaluation data available to the bot;
    on the in-memory forge unless parametrised (indirectly) with "sandbox"."""
    kind: ForgeKind = getattr(request, "param", "memory")
    content = repository_content(trained_registry)
    if kind == "memory":
        yield memory_world(tmp_path, content, trained_registry, data=True)
        return
    checks = make_checks(
        request.getfixturevalue("rest_contract"), request.getfixturevalue("webhook_contract")
    )
    with start_github_sandbox(tmp_path, checks, content=content) as sandbox:
        world = make_world(tmp_path, sandbox, trained_registry, data=True)
        yield world
        assert isinstance(world.forge, GitHubForge)
        world.forge.close()
