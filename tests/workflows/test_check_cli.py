"""`promobot check` from a local checkout: manifests must match the registry and pass the policy."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.recipe import Recipe
from tests.conftest import PROJECT_ROOT
from tests.support.mlflow_models import MODEL, TrainedRegistry
from tests.workflows.conftest import champion_manifest

runner = CliRunner()
PATH = f"model-manifests/production/{MODEL}.yaml"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(
    tmp_path: Path, trained_registry: TrainedRegistry, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A model repository whose main holds the policies and the v1 manifest."""
    root = tmp_path / "models"
    (root / "policies").mkdir(parents=True)
    for name in ("defaults.yaml", "churn-team.yaml"):
        (root / "policies" / name).write_text((PROJECT_ROOT / "policies" / name).read_text())
    (root / PATH).parent.mkdir(parents=True)
    (root / PATH).write_text(champion_manifest(trained_registry))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "initial")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_registry.tracking_uri)
    return root


def propose_on_branch(
    repo: Path, registry: TrainedRegistry, recipe: Recipe, **metric_overrides: float
) -> str:
    version = registry.version(recipe)
    text = champion_manifest(registry).replace(
        f"version: '{registry.version(Recipe.BASELINE).version}'", f"version: '{version.version}'"
    )
    text = text.replace(registry.version(Recipe.BASELINE).run_id, version.run_id)
    for name, value in {
        **{k: round(v, 6) for k, v in version.metrics.items()},
        **metric_overrides,
    }.items():
        lines = [line for line in text.splitlines() if line.strip().startswith(f"{name}:")]
        text = text.replace(lines[0], f"  {name}: {value}")
    git(repo, "checkout", "-qb", f"try-{recipe.value}-{len(metric_overrides)}", "main")
    (repo / PATH).write_text(text)
    git(repo, "commit", "-qam", f"propose v{version.version}")
    return git(repo, "rev-parse", "HEAD")


def check(repo: Path, head: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--repo", str(repo), "--base", "main", "--head", head])
    return result.exit_code, result.output


def test_better_version_with_registry_metrics_passes(
    repo: Path, trained_registry: TrainedRegistry
) -> None:
    """The honest pull request passes."""
    code, output = check(repo, propose_on_branch(repo, trained_registry, Recipe.BETTER))
    assert code == 0, output
    assert "passes churn-team" in output


def test_tampered_metric_fails(repo: Path, trained_registry: TrainedRegistry) -> None:
    """Metrics in a manifest are never trusted from the pull request."""
    code, output = check(repo, propose_on_branch(repo, trained_registry, Recipe.BETTER, f1=0.99))
    assert code == 1
    assert "metrics.f1 is 0.99, the registry says" in output


def test_worse_version_fails_the_policy(repo: Path, trained_registry: TrainedRegistry) -> None:
    """A manifest edited by hand to a worse version is refused."""
    code, output = check(repo, propose_on_branch(repo, trained_registry, Recipe.WORSE))
    assert code == 1
    assert "fails" in output and "primary" in output


def test_policy_and_manifest_together_fail(repo: Path, trained_registry: TrainedRegistry) -> None:
    """Loosening the rules and promoting in one pull request is refused."""
    head = propose_on_branch(repo, trained_registry, Recipe.BETTER)
    (repo / "policies" / "churn-team.yaml").write_text(
        (repo / "policies" / "churn-team.yaml")
        .read_text()
        .replace("min_absolute_change: 0.005", "min_absolute_change: 0.0")
    )
    git(repo, "commit", "-qam", "loosen")
    code, output = check(repo, git(repo, "rev-parse", "HEAD"))
    assert head
    assert code == 1
    assert "policies/ and model-manifests/ together" in output
