"""`apply_changes` on a real git repository with an in-memory target: what is touched, when."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.manifest import RegistryKind
from bot.gitrepo import GitRepo, read_marker
from bot.workflows.apply import ApplyReport, ApplyStatus, apply_changes
from tests.cd.support import GitOpsRepo, RecordingRegistry, RecordingTarget


@pytest.fixture
def gitops(tmp_path: Path) -> GitOpsRepo:
    """Three models in production, one in staging, and an unrelated file."""
    repo = GitOpsRepo(tmp_path / "models")
    repo.write("README.md", "# models\n")
    for model in ("churn", "fraud", "upsell"):
        repo.write_manifest(model, "1")
    repo.write_manifest("churn", "1", "staging")
    repo.commit("Initial models")
    return repo


def run(
    gitops: GitOpsRepo,
    target: RecordingTarget,
    registry: RecordingRegistry | None = None,
    **options: object,
) -> ApplyReport:
    lines: list[str] = []
    registries = (
        (lambda kind: registry if kind is RegistryKind.MLFLOW else None) if registry else None
    )
    with GitRepo(gitops.path) as repo:
        return apply_changes(
            repo,
            lambda _deployment: target,
            registries=registries,
            progress=lines.append,
            **options,  # type: ignore[arg-type]
        )


def statuses(report: ApplyReport) -> dict[str, ApplyStatus]:
    return {r.path: r.status for r in report.results}


def test_first_run_applies_every_manifest_and_moves_aliases(gitops: GitOpsRepo) -> None:
    """With no record of an earlier apply, the whole desired state is applied."""
    target, registry = RecordingTarget(), RecordingRegistry()
    report = run(gitops, target, registry)
    assert report.ok
    assert report.marker_advanced
    assert report.base is None
    assert sorted(target.applied) == [
        ("churn", "production", "1"),
        ("churn", "staging", "1"),
        ("fraud", "production", "1"),
        ("upsell", "production", "1"),
    ]
    assert registry.aliases[("churn", "staging")] == "1"
    assert registry.aliases[("upsell", "production")] == "1"
    with GitRepo(gitops.path) as repo:
        assert read_marker(repo.git_dir, "main") == gitops.head()


def test_second_run_changes_nothing_and_calls_no_target(gitops: GitOpsRepo) -> None:
    """Apply runs on every push; with nothing new it must not even ask a target."""
    run(gitops, RecordingTarget())
    target = RecordingTarget()
    report = run(gitops, target)
    assert report.results == ()
    assert sum(target.calls.values()) == 0


def test_only_changed_manifests_are_touched(gitops: GitOpsRepo) -> None:
    """Cost follows the change: one edited manifest means one target call."""
    target = RecordingTarget()
    run(gitops, target)
    target.calls.clear()
    gitops.write_manifest("fraud", "2")
    gitops.write("README.md", "# models, edited\n")
    gitops.commit("Promote fraud to 2 (#4)")
    report = run(gitops, target)
    assert statuses(report) == {"model-manifests/production/fraud.yaml": ApplyStatus.APPLIED}
    assert target.calls == {"apply": 1}
    assert target.serving[("fraud", "production")] == "2"


def test_state_is_kept_outside_the_branch(gitops: GitOpsRepo) -> None:
    """The marker must never show up as a change to commit on the GitOps branch."""
    run(gitops, RecordingTarget())
    assert gitops.git("status", "--porcelain") == ""
    assert (gitops.path / ".git" / "promobot" / "last-applied").is_file()


def test_a_failure_keeps_the_marker_and_others_still_apply(gitops: GitOpsRepo) -> None:
    """One broken model must not block the others, and must be retried on the next run."""
    target = RecordingTarget()
    first = run(gitops, target)
    for model in ("churn", "fraud", "upsell"):
        gitops.write_manifest(model, "2")
    gitops.commit("Promote three models")
    target.failing["fraud"] = "smoke test failed for fraud 2"
    report = run(gitops, target)
    assert not report.ok
    assert not report.marker_advanced
    assert [f.path for f in report.failures] == ["model-manifests/production/fraud.yaml"]
    assert "smoke test failed" in report.failures[0].detail
    assert target.serving[("churn", "production")] == "2"
    assert target.serving[("upsell", "production")] == "2"
    assert target.serving[("fraud", "production")] == "1"
    with GitRepo(gitops.path) as repo:
        assert read_marker(repo.git_dir, "main") == first.head

    del target.failing["fraud"]
    retry = run(gitops, target)
    assert retry.ok
    assert retry.marker_advanced
    assert statuses(retry)["model-manifests/production/fraud.yaml"] is ApplyStatus.APPLIED
    assert statuses(retry)["model-manifests/production/churn.yaml"] is ApplyStatus.UNCHANGED


def test_since_overrides_the_marker(gitops: GitOpsRepo) -> None:
    """`--since SHA` re-applies what changed after SHA, whatever the marker says."""
    target = RecordingTarget()
    start = gitops.head()
    run(gitops, target)
    gitops.write_manifest("upsell", "2")
    gitops.commit("Promote upsell")
    run(gitops, target)
    target.calls.clear()
    report = run(gitops, target, since=start)
    assert statuses(report) == {"model-manifests/production/upsell.yaml": ApplyStatus.UNCHANGED}
    assert target.calls == {"apply": 1}


def test_deleted_manifest_is_reported_not_undeployed(gitops: GitOpsRepo) -> None:
    """Deleting a file is no order to take a model out of service."""
    target = RecordingTarget()
    run(gitops, target)
    gitops.remove("model-manifests/production/upsell.yaml")
    gitops.commit("Stop managing upsell")
    report = run(gitops, target)
    assert report.ok
    assert statuses(report) == {"model-manifests/production/upsell.yaml": ApplyStatus.DELETED}
    assert "keeps serving" in report.results[0].detail
    assert target.serving[("upsell", "production")] == "1"


def test_invalid_manifest_fails_with_its_problems(gitops: GitOpsRepo) -> None:
    """A manifest that does not validate is a failure naming file, line and field."""
    target = RecordingTarget()
    run(gitops, target)
    target.calls.clear()
    broken = "apiVersion: promobot/v1\nkind: ModelManifest\nmodel: churn\n"
    gitops.write("model-manifests/production/churn.yaml", broken)
    gitops.commit("Break churn")
    report = run(gitops, target)
    assert not report.marker_advanced
    (failure,) = report.failures
    assert failure.path == "model-manifests/production/churn.yaml"
    assert "model-manifests/production/churn.yaml:" in failure.detail
    assert "version" in failure.detail
    assert target.calls["apply"] == 0


def test_changes_that_cancel_out_touch_nothing(gitops: GitOpsRepo) -> None:
    """Desired state is compared, not commits: v2 then back to v1 before an apply is no change."""
    target = RecordingTarget()
    run(gitops, target)
    gitops.write_manifest("churn", "2")
    gitops.commit("Promote churn")
    gitops.write_manifest("churn", "1")
    gitops.commit("Back to 1")
    target.calls.clear()
    report = run(gitops, target)
    assert report.results == ()
    assert report.marker_advanced
    assert sum(target.calls.values()) == 0


def test_since_the_null_commit_applies_everything(gitops: GitOpsRepo) -> None:
    """A push that creates the branch reports `before` as 40 zeros: everything is new."""
    target = RecordingTarget()
    run(gitops, target)
    target.calls.clear()
    report = run(gitops, target, since="0" * 40)
    assert len(report.results) == 4
    assert target.calls == {"apply": 4}
