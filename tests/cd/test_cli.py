"""The CD commands' settings and user errors, and targets built from a manifest's kind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import TargetPool
from bot.cli.main import app
from bot.domain.manifest import Deployment, TargetKind
from bot.errors import UserInputError
from bot.gitrepo import GitRepo
from bot.settings import Settings, load_settings
from bot.workflows.apply import ApplyStatus, apply_changes
from tests.cd.support import GitOpsRepo, RecordingTarget

AZURE_VARIABLES = (
    "PROMOBOT_AZURE_SUBSCRIPTION_ID",
    "AZURE_SUBSCRIPTION_ID",
    "PROMOBOT_AZURE_RESOURCE_GROUP",
    "AZURE_RESOURCE_GROUP",
    "PROMOBOT_AZURE_WORKSPACE",
    "AZUREML_WORKSPACE_NAME",
)


@pytest.fixture
def no_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads MLflow, the scoring server and GitHub from the environment."""
    for name, value in {
        "MLFLOW_TRACKING_URI": "sqlite:///m.db",
        "PROMOBOT_GITHUB__REPOSITORY": "acme/models",
        "PROMOBOT_GITHUB__TOKEN": "t0ken",
        "PROMOBOT_GITHUB__BOT_LOGIN": "promobot[bot]",
        "PROMOBOT_GITHUB__BASE_URL": "http://127.0.0.1:9/api/v3",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.mlflow_tracking_uri == "sqlite:///m.db"
    assert settings.local_target_url == "http://127.0.0.1:8081"
    assert settings.github is not None
    assert settings.github.repository == "acme/models"
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == "t0ken"


def test_no_github_variables_means_no_github(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply must work without GitHub."""
    monkeypatch.setenv("PROMOBOT_LOCAL_TARGET_URL", "http://x:1")
    assert load_settings().github is None


def test_incomplete_github_settings_are_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a GitHub configuration is an error that says what to set, not a traceback."""
    monkeypatch.setenv("PROMOBOT_GITHUB__REPOSITORY", "acme/models")
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1")
    repo.commit("Deploy churn")
    result = CliRunner().invoke(app, ["apply", "--repo", str(repo.path)])
    assert result.exit_code == 2
    assert "PROMOBOT_GITHUB__TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_since_commit_is_a_user_error(tmp_path: Path) -> None:
    """A mistyped --since must not be mistaken for 'apply everything'."""
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1")
    repo.commit("Deploy churn")
    result = CliRunner().invoke(app, ["apply", "--repo", str(repo.path), "--since", "deadbeef"])
    assert result.exit_code == 2
    assert "'deadbeef' names no commit" in result.stderr


@pytest.mark.usefixtures("no_azure")
def test_unconfigured_azure_fails_only_its_manifests(tmp_path: Path) -> None:
    """A missing Azure configuration names the variables to set, and local models still deploy."""
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1")
    repo.write_manifest("fraud", "4", target="azureml", instance_type="Standard_DS3_v2")
    repo.commit("Two models, two targets")
    local = RecordingTarget()
    pool = TargetPool(Settings(), factories={TargetKind.LOCAL: lambda: local})
    with GitRepo(repo.path) as git_repo:
        report = apply_changes(git_repo, pool)
    by_path = {r.path: r for r in report.results}
    assert by_path["model-manifests/production/churn.yaml"].status is ApplyStatus.APPLIED
    fraud = by_path["model-manifests/production/fraud.yaml"]
    assert fraud.status is ApplyStatus.FAILED
    assert "deployment target `azureml` is not configured" in fraud.detail
    assert "PROMOBOT_AZURE_SUBSCRIPTION_ID" in fraud.detail
    assert not report.marker_advanced


def test_unconfigured_azure_devops_names_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PROMOBOT_AZURE_DEVOPS_ORG_URL",
        "SYSTEM_COLLECTIONURI",
        "PROMOBOT_AZURE_DEVOPS_PROJECT",
        "SYSTEM_TEAMPROJECT",
        "PROMOBOT_AZURE_DEVOPS_TOKEN",
        "AZURE_DEVOPS_EXT_PAT",
    ):
        monkeypatch.delenv(name, raising=False)
    pool = TargetPool(Settings())
    with pytest.raises(UserInputError, match="PROMOBOT_AZURE_DEVOPS_TOKEN"):
        pool(Deployment(target=TargetKind.AZURE_DEVOPS, endpoint="churn", pipeline_id=3))


def test_diff_exits_2_when_what_serves_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreachable target is neither 'in sync' nor 'drift': diff says it could not tell."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("PROMOBOT_LOCAL_TARGET_URL", f"http://127.0.0.1:{closed_port}")
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1")
    repo.commit("Deploy churn")
    result = CliRunner().invoke(app, ["diff", "--repo", str(repo.path)])
    assert result.exit_code == 2
    assert "unknown" in result.stdout
    assert "cannot read what serves" in result.stdout
