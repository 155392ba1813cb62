"""`promobot history`: promotions and rollbacks read back from the git log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.workflows.history import HistoryKind, classify, is_revert_message, pull_request_of_message
from tests.cd.support import ALICE, BOB, GitOpsRepo


@pytest.fixture
def promoted(tmp_path: Path) -> tuple[GitOpsRepo, dict[str, str]]:
    """churn: deployed at 1, promoted to 2 by squash-merged PR #7, then reverted by Bob."""
    repo = GitOpsRepo(tmp_path / "models")
    repo.write_manifest("churn", "1", metrics={"f1": 0.81, "accuracy": 0.9})
    repo.write_manifest("fraud", "3")
    shas = {"first": repo.commit("Deploy churn 1", author=ALICE)}
    repo.write_manifest("churn", "2", metrics={"f1": 0.84, "accuracy": 0.91}, pull_request=7)
    shas["promotion"] = repo.commit("Promote churn to version 2 (#7)", author=ALICE)
    repo.write_manifest("fraud", "4")
    repo.commit("Promote fraud (#8)")
    shas["revert"] = repo.revert(shas["promotion"], author=BOB)
    return repo, shas


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_history_json_lists_promotion_and_revert(
    promoted: tuple[GitOpsRepo, dict[str, str]],
) -> None:
    """The audit trail: who promoted what through which PR, and the rollback that undid it."""
    repo, shas = promoted
    code, out, _ = invoke("history", "churn", "--repo", str(repo.path), "--format", "json")
    assert code == 0
    document = json.loads(out)
    entries = document["entries"]
    assert [e["commit"] for e in entries] == [shas["revert"], shas["promotion"], shas["first"]]
    rollback, promotion, first = entries
    assert rollback["kind"] == "rollback"
    assert rollback["is_revert"]
    assert (rollback["from_version"], rollback["to_version"]) == ("2", "1")
    assert rollback["reverts"] == shas["promotion"]
    assert rollback["author"] == "Bob Jones"
    assert rollback["pull_request"] is None
    assert rollback["reverts_pull_request"] == 7
    assert promotion["kind"] == "promotion"
    assert not promotion["is_revert"]
    assert (promotion["from_version"], promotion["to_version"]) == ("1", "2")
    assert promotion["pull_request"] == 7
    assert promotion["metrics"] == {"f1": 0.84, "accuracy": 0.91}
    assert promotion["author"] == "Alice Smith"
    assert promotion["state"] == "rolled_back"
    assert rollback["state"] is None
    assert first["kind"] == "deployment"
    assert first["state"] == "merged"
    assert first["from_version"] is None
    assert all(e["environment"] == "production" for e in entries)


def test_history_table_shows_each_change(promoted: tuple[GitOpsRepo, dict[str, str]]) -> None:
    """The table a person reads: one line per change, newest first, with the PR and versions."""
    repo, shas = promoted
    code, out, _ = invoke(
        "history", "churn", "--repo", str(repo.path), "--environment", "production"
    )
    assert code == 0
    header, *lines = out.strip().splitlines()
    assert header.split() == [
        "WHEN",
        "ENVIRONMENT",
        "KIND",
        "STATE",
        "VERSION",
        "PR",
        "WHO",
        "METRICS",
        "COMMIT",
    ]
    assert len(lines) == 3
    assert "rollback (revert)" in lines[0]
    assert "2 → 1" in lines[0]
    assert shas["revert"][:7] in lines[0]
    assert "reverts #7" in lines[0]
    assert "promotion" in lines[1]
    assert "rolled_back" in lines[1]
    assert "1 → 2" in lines[1]
    assert "#7" in lines[1]
    assert "f1=0.84" in lines[1]
    assert "deployment" in lines[2]
    assert "- → 1" in lines[2]


def test_history_of_another_environment_is_empty(
    promoted: tuple[GitOpsRepo, dict[str, str]],
) -> None:
    """An environment filter reads only that environment's manifest."""
    repo, _ = promoted
    code, out, _err = invoke(
        "history", "churn", "--repo", str(repo.path), "--environment", "staging", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["entries"] == []


def test_history_of_a_folder_that_is_no_repository(tmp_path: Path) -> None:
    """A wrong --repo is a one-line error with exit code 2, not a traceback."""
    code, _, err = invoke("history", "churn", "--repo", str(tmp_path))
    assert code == 2
    assert "is not a git repository" in err


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("Promote churn to version 2 (#7)", 7),
        ("Merge pull request #12 from acme/promobot/production/churn\n\nPromote", 12),
        ('Revert "Promote churn to version 2 (#7)" (#9)', 9),
        ("Deploy churn 1", None),
        ("Mention (#3) in the middle only", None),
    ],
)
def test_pull_request_from_merge_messages(message: str, number: int | None) -> None:
    """GitHub writes the PR number into squash and merge commit messages."""
    assert pull_request_of_message(message) == number


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('Revert "Promote churn (#7)"\n\nThis reverts commit 0123456789abcdef.', True),
        ("Roll back churn\n\nThis reverts commit 0123456.", True),
        ("Promote churn (#7)", False),
    ],
)
def test_revert_messages(message: str, expected: bool) -> None:
    assert is_revert_message(message) is expected


@pytest.mark.parametrize(
    ("before", "after", "revert", "served", "kind"),
    [
        (None, "1", False, set(), HistoryKind.DEPLOYMENT),
        ("1", "2", False, {"1"}, HistoryKind.PROMOTION),
        ("2", "1", True, {"1", "2"}, HistoryKind.ROLLBACK),
        ("2", "1", False, {"1", "2"}, HistoryKind.ROLLBACK),
        ("2", "2", False, {"2"}, HistoryKind.UPDATE),
        ("2", None, False, {"2"}, HistoryKind.REMOVAL),
    ],
)
def test_classify(
    before: str | None, after: str | None, revert: bool, served: set[str], kind: HistoryKind
) -> None:
    """A hand edit back to a version that served before is a rollback too."""
    assert classify(before, after, is_revert=revert, served_before=served) is kind
