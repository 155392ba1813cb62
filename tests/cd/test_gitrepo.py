"""Local git access: changes between commits, reading at a commit, and the applied marker."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from bot.errors import UserInputError
from bot.gitrepo import ChangedFile, ChangeKind, GitRepo, apply_lock, read_marker, write_marker
from bot.gitrepo.marker import marker_path
from tests.cd.support import GitOpsRepo

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def history(tmp_path: Path) -> tuple[GitOpsRepo, str, str]:
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1")
    repo.write_manifest("fraud", "1")
    first = repo.commit("First")
    repo.write_manifest("churn", "2")
    repo.remove("model-manifests/production/fraud.yaml")
    repo.write_manifest("upsell", "1", "staging")
    return repo, first, repo.commit("Second")


def test_changed_files_name_each_kind(history: tuple[GitOpsRepo, str, str]) -> None:
    repo, first, second = history
    with GitRepo(repo.path) as git_repo:
        assert git_repo.changed_files(first, second, "model-manifests") == [
            ChangedFile("model-manifests/production/churn.yaml", ChangeKind.MODIFIED),
            ChangedFile("model-manifests/production/fraud.yaml", ChangeKind.DELETED),
            ChangedFile("model-manifests/staging/upsell.yaml", ChangeKind.ADDED),
        ]
        assert git_repo.read_text(first, "model-manifests/production/fraud.yaml") is not None
        assert git_repo.read_text(second, "model-manifests/production/fraud.yaml") is None
        assert git_repo.list_files(second, "model-manifests") == [
            "model-manifests/production/churn.yaml",
            "model-manifests/staging/upsell.yaml",
        ]
        assert git_repo.list_files(second, "policies") == []


def test_log_of_a_path(history: tuple[GitOpsRepo, str, str]) -> None:
    repo, first, second = history
    with GitRepo(repo.path) as git_repo:
        log = git_repo.log("main", ["model-manifests/*/churn.yaml"], glob=True)
        assert [(c.sha, c.subject, c.paths) for c in log] == [
            (second, "Second", ("model-manifests/production/churn.yaml",)),
            (first, "First", ("model-manifests/production/churn.yaml",)),
        ]
        assert log[0].parents == (first,)
        assert log[0].author_name == "Alice Smith"
        assert len(git_repo.log("main", ["model-manifests"], limit=1)) == 1


def test_marker_round_trip_per_branch(history: tuple[GitOpsRepo, str, str]) -> None:
    repo, first, second = history
    with GitRepo(repo.path) as git_repo:
        assert read_marker(git_repo.git_dir, "main") is None
        write_marker(git_repo.git_dir, "main", second, NOW)
        write_marker(git_repo.git_dir, "release", first, NOW)
        assert read_marker(git_repo.git_dir, "main") == second
        assert read_marker(git_repo.git_dir, "release") == first


def test_a_damaged_marker_says_how_to_recover(history: tuple[GitOpsRepo, str, str]) -> None:
    repo, _, _ = history
    with GitRepo(repo.path) as git_repo:
        path = marker_path(git_repo.git_dir)
        path.parent.mkdir(parents=True)
        path.write_text('{"branches": {"main": {"commit": "nope"}}}')
        with pytest.raises(UserInputError, match="--since"):
            read_marker(git_repo.git_dir, "main")


def test_apply_lock_keeps_two_runs_apart(tmp_path: Path) -> None:
    """Two applies on one checkout (webhook and a person) must not interleave."""
    order: list[str] = []
    inside = threading.Event()
    with apply_lock(tmp_path):
        waiter = threading.Thread(target=lambda: _locked(tmp_path, order, inside))
        waiter.start()
        assert not inside.wait(0.2)
        order.append("first done")
    waiter.join(10)
    assert order == ["first done", "second"]


def _locked(git_dir: Path, order: list[str], inside: threading.Event) -> None:
    with apply_lock(git_dir):
        inside.set()
        order.append("second")


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not a git repository"):
        GitRepo(tmp_path)


def test_a_symlink_in_git_is_refused_not_followed(tmp_path: Path) -> None:
    """Git carries symlinks: a policy linked to a file outside the repository (or to a
    device) must never be read through the link."""
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1")
    (repo.path / "policies").mkdir()
    (repo.path / "policies" / "team.yaml").symlink_to("/etc/passwd")
    head = repo.commit("A policy that is a link")
    with GitRepo(repo.path) as git_repo:
        assert git_repo.read_text(head, "model-manifests/production/churn.yaml") is not None
        with pytest.raises(UserInputError, match=r"policies/team\.yaml.*symbolic link"):
            git_repo.read_text(head, "policies/team.yaml")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    repo = GitOpsRepo(tmp_path / "models")
    repo.write("policies/huge.yaml", "# padding\n" * 120_000)
    head = repo.commit("A 1.2 MB policy")
    with GitRepo(repo.path) as git_repo, pytest.raises(UserInputError, match=r"1 MB|bytes"):
        git_repo.read_text(head, "policies/huge.yaml")
