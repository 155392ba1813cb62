"""CD with the sandbox GitHub: deployment statuses; a failed verification reverted through git."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import RegistryPool, TargetPool
from bot.domain.policy import VerifySection
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from bot.formats.loading import load_manifest_text
from bot.gitrepo import GitRepo
from bot.serving.runner import RunningServer
from bot.settings import Settings
from bot.targets.local import LocalTarget
from bot.workflows.apply import ApplyReport, ApplyStatus, apply_changes
from bot.workflows.verify import VerifyAction, verify_deployment
from tests.cd.support import GitOpsRepo, RecordingTarget, manifest_text
from tests.cd.test_rollback import answering_version
from tests.serving.support import EDGE_ROW
from tests.support.github_sandbox import GitHubSandbox, make_checks, start_github_sandbox
from tests.support.serving_models import Registry

MANIFEST = "model-manifests/production/churn.yaml"


def forge_settings(sandbox: GitHubSandbox) -> GitHubSettings:
    """Alice's token, with test-sized waits."""
    return GitHubSettings(
        base_url=sandbox.base_url,
        repository=sandbox.repo_name,
        token=sandbox.tokens["alice"],
        bot_login="alice",
        seconds_between_writes=0,
        retry_total=2,
        retry_backoff_seconds=0.01,
    )


@pytest.fixture
def start_sandbox(tmp_path: Path, rest_contract: Any, webhook_contract: Any) -> Iterator[Any]:
    """Starts a sandbox whose repository holds a churn manifest at `version`."""
    stack: list[Any] = []

    def start(version: str) -> GitHubSandbox:
        content = {"README.md": "# models\n", MANIFEST: manifest_text("churn", version)}
        context = start_github_sandbox(
            tmp_path, make_checks(rest_contract, webhook_contract), content=content
        )
        stack.append(context)
        return context.__enter__()

    yield start
    for context in stack:
        context.__exit__(None, None, None)


@pytest.fixture
def forge_of() -> Iterator[Any]:
    built: list[GitHubForge] = []

    def build(sandbox: GitHubSandbox) -> GitHubForge:
        forge = GitHubForge(forge_settings(sandbox))
        built.append(forge)
        return forge

    yield build
    for forge in built:
        forge.close()


def clone(sandbox: GitHubSandbox, path: Path) -> GitOpsRepo:
    """A plain clone of the sandbox repository, as CD's checkout."""
    GitOpsRepo(path.parent, init=False).git("clone", "--quiet", str(sandbox.bare_path()), path.name)
    return GitOpsRepo(path, init=False)


def run_apply(
    repo: GitOpsRepo, targets: Any, forge: GitHubForge, registries: Any = None
) -> ApplyReport:
    with GitRepo(repo.path) as git_repo:
        return apply_changes(git_repo, targets, forge=forge, registries=registries, progress=print)


def deployments(sandbox: GitHubSandbox) -> list[dict[str, Any]]:
    """Every deployment with its statuses, oldest first (statuses oldest first too)."""
    with sandbox.http("alice") as http:
        found = http.get(f"/repos/{sandbox.repo_name}/deployments").json()
        for deployment in found:
            statuses = http.get(
                f"/repos/{sandbox.repo_name}/deployments/{deployment['id']}/statuses"
            )
            deployment["states"] = [s["state"] for s in reversed(statuses.json())]
            deployment["descriptions"] = [s["description"] for s in reversed(statuses.json())]
    return list(reversed(found))


def test_deployments_record_in_progress_then_success_or_failure(
    tmp_path: Path, start_sandbox: Any, forge_of: Any
) -> None:
    """Every applied manifest leaves a GitHub deployment with the target's outcome."""
    sandbox = start_sandbox("1")
    forge = forge_of(sandbox)
    repo = clone(sandbox, tmp_path / "checkout")
    target = RecordingTarget()
    assert run_apply(repo, lambda _d: target, forge).ok

    repo.write_manifest("churn", "2")
    repo.commit("Promote churn to version 2 (#1)")
    repo.git("push", "--quiet", "origin", "main")
    target.failing["churn"] = "version 2 failed its smoke test"
    report = run_apply(repo, lambda _d: target, forge)
    assert [r.status for r in report.results] == [ApplyStatus.FAILED]

    first, second = deployments(sandbox)
    assert first["environment"] == "production/churn"
    assert first["payload"]["version"] == "1"
    assert first["states"] == ["in_progress", "success"]
    assert second["sha"] == repo.head()
    assert second["payload"] == {
        "model": "churn",
        "environment": "production",
        "version": "2",
        "endpoint": "churn",
        "target": "local",
        "manifest": MANIFEST,
    }
    assert second["states"] == ["in_progress", "failure"]
    assert "smoke test" in second["descriptions"][-1]
    assert report.results[0].deployment_id == second["id"]


def test_failed_verification_reverts_the_promotion_through_git(
    tmp_path: Path,
    registry: Registry,
    start_sandbox: Any,
    forge_of: Any,
    scoring_server: RunningServer,
    cd_settings: Settings,
) -> None:
    """The whole loop: promote, deploy, watch it fail, revert by PR, and CD restores the old one."""
    good, fragile = registry.version("logistic"), registry.version("fragile")
    sandbox = start_sandbox(good)
    forge = forge_of(sandbox)
    targets, registries = TargetPool(cd_settings), RegistryPool(cd_settings)
    repo = clone(sandbox, tmp_path / "checkout")
    assert run_apply(repo, targets, forge, registries).ok

    promotion = forge.open_or_update_promotion(
        model="churn",
        environment="production",
        manifest_path=MANIFEST,
        manifest_text=manifest_text("churn", fragile, champion=good),
        title=f"Promote churn to version {fragile}",
        body="report",
    )
    number = promotion.pull_request.number
    forge.merge(number, expected_head_sha=promotion.commit_sha)
    repo.git("pull", "--quiet", "--ff-only")
    assert run_apply(repo, targets, forge, registries).ok
    assert answering_version(scoring_server) == fragile

    with httpx.Client(base_url=scoring_server.url, timeout=30) as http:
        answers = [
            http.post(
                "/v1/models/churn/predict",
                params={"environment": "production"},
                json={"records": [EDGE_ROW]},
            )
            for _ in range(25)
        ]
    assert {a.status_code for a in answers} != {200}

    rejected: list[tuple[str, str, str, str]] = []
    manifest = load_manifest_text((repo.path / MANIFEST).read_text(), MANIFEST)
    target = LocalTarget(scoring_server.url, registry.tracking_uri)
    try:
        outcome = verify_deployment(
            manifest,
            target,
            VerifySection(window_minutes=0.5, max_error_rate=0.05, on_failure="revert"),
            forge=forge,
            record_rejected=lambda *args: rejected.append(args),
            commit_message=repo.git("log", "-1", "--format=%B"),
            interval_seconds=0.05,
            progress=print,
        )
    finally:
        target.close()
    assert not outcome.ok
    assert outcome.action is VerifyAction.REVERTED
    assert [r[:3] for r in rejected] == [("churn", "production", fragile)]
    assert "error rate" in rejected[0][3]
    revert = forge.get_pull_request(outcome.revert_pull_request or 0)
    assert revert.merged
    assert "rollback" in revert.labels
    assert f"#{number}" in revert.body
    assert load_manifest_text(forge.read_file(MANIFEST) or "", MANIFEST).version == good

    repo.git("pull", "--quiet", "--ff-only")
    report = run_apply(repo, targets, forge, registries)
    targets.close()
    assert [(r.status, r.version) for r in report.results] == [(ApplyStatus.APPLIED, good)]
    assert answering_version(scoring_server) == good
    assert [d["states"][-1] for d in deployments(sandbox)] == ["success", "success", "success"]
