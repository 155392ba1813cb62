"""Apply against a real scoring server: promotion, rollback by `git revert`, failures, drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import RegistryPool, TargetPool
from bot.cli.main import app
from bot.gitrepo import GitRepo, read_marker
from bot.registry.mlflow import MlflowRegistry
from bot.serving.runner import RunningServer
from bot.settings import Settings
from bot.workflows.apply import ApplyReport, ApplyStatus, apply_changes
from bot.workflows.history import read_history
from tests.cd.support import GitOpsRepo
from tests.serving.support import SAFE_ROWS
from tests.support.http import LOCAL
from tests.support.serving_models import Registry


def answering_version(server: RunningServer, model: str = "churn") -> str:
    """The version that answers a prediction request right now."""
    response = LOCAL.post(
        f"{server.url}/v1/models/{model}/predict",
        params={"environment": "production"},
        json={"records": SAFE_ROWS},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["version"])


def apply_repo(repo: GitOpsRepo, settings: Settings) -> ApplyReport:
    """`promobot apply` as the library call the service makes."""
    targets = TargetPool(settings)
    try:
        with GitRepo(repo.path) as git_repo:
            return apply_changes(
                git_repo, targets, registries=RegistryPool(settings), progress=print
            )
    finally:
        targets.close()


def test_git_revert_makes_the_previous_version_serve_again(
    tmp_path: Path, registry: Registry, scoring_server: RunningServer, cd_settings: Settings
) -> None:
    """Rollback has no code path of its own: a revert commit is just the next desired state."""
    v1, v2 = registry.version("logistic"), registry.version("boosted")
    aliases = MlflowRegistry(registry.tracking_uri)
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", v1)
    repo.commit("Deploy churn")
    assert apply_repo(repo, cd_settings).ok
    assert answering_version(scoring_server) == v1
    assert aliases.alias_version("churn", "production") == v1

    repo.write_manifest("churn", v2, pull_request=3, champion=v1)
    promotion = repo.commit(f"Promote churn to version {v2} (#3)")
    report = apply_repo(repo, cd_settings)
    assert [r.status for r in report.results] == [ApplyStatus.APPLIED]
    assert answering_version(scoring_server) == v2
    assert aliases.alias_version("churn", "production") == v2

    repo.revert(promotion)
    report = apply_repo(repo, cd_settings)
    assert [(r.status, r.version) for r in report.results] == [(ApplyStatus.APPLIED, v1)]
    assert answering_version(scoring_server) == v1
    assert aliases.alias_version("churn", "production") == v1
    with GitRepo(repo.path) as git_repo:
        kinds = [e.kind.value for e in read_history(git_repo, "churn")]
    assert kinds == ["rollback", "promotion", "deployment"]


@pytest.mark.usefixtures("cd_env")
def test_failed_apply_keeps_the_old_version_and_diff_shows_the_drift(
    tmp_path: Path, registry: Registry, scoring_server: RunningServer
) -> None:
    """A version that fails its smoke test never serves; CD says so, and retries next time."""
    good, broken = registry.version("logistic"), registry.version("fragile_example")
    runner = CliRunner()
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", good)
    applied = repo.commit("Deploy churn")
    first = runner.invoke(app, ["apply", "--repo", str(repo.path)])
    assert first.exit_code == 0, first.stderr
    assert f"applied   model-manifests/production/churn.yaml {good}" in first.stdout
    in_sync = runner.invoke(app, ["diff", "--repo", str(repo.path)])
    assert in_sync.exit_code == 0, in_sync.stdout + in_sync.stderr
    assert "in-sync" in in_sync.stdout

    repo.write_manifest("churn", broken)
    repo.commit("Promote churn to the fragile version (#4)")
    failed = runner.invoke(app, ["apply", "--repo", str(repo.path)])
    assert failed.exit_code == 1
    assert "smoke test" in failed.stderr
    assert "1 manifest(s) failed" in failed.stderr
    assert answering_version(scoring_server) == good
    with GitRepo(repo.path) as git_repo:
        assert read_marker(git_repo.git_dir, "main") == applied

    drift = runner.invoke(app, ["diff", "--repo", str(repo.path), "--format", "json"])
    assert drift.exit_code == 1
    (row,) = json.loads(drift.stdout)["rows"]
    assert (row["status"], row["desired"], row["serving"]) == ("drift", broken, {good: 100})
