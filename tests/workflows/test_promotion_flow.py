"""Propose, gate and merge against a real MLflow, on the in-memory forge; the heart of the
product runs on the sandbox GitHub (HTTP, PyGithub) too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.domain.layout import promotion_branch
from bot.recipe import Recipe
from bot.store.sql import SqlEventStore
from bot.workflows.commands import handle_comment
from bot.workflows.gate import STATUS_MARKER, gate
from bot.workflows.propose import ProposeOutcome, propose
from tests.support.forge_sites import FORGE_KINDS
from tests.support.mlflow_models import MODEL
from tests.workflows.conftest import World

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
ENV = "production"


def _version(world: World, recipe: Recipe) -> str:
    return world.registry.version(recipe).version


def _approve(world: World, login: str, number: int) -> None:
    world.people.review(login, number, "APPROVE", "lgtm")


def _touch_manifest(world: World, branch: str, comment: str) -> None:
    """A person's commit on the promotion branch: a comment added to the manifest."""
    path = f"model-manifests/{ENV}/{MODEL}.yaml"
    text = (world.people.file_at(branch, path) or "") + comment
    world.people.commit_file("bob", branch, path, text, "touch")


def test_a_promotion_that_changes_another_file_fails_its_check(world: World) -> None:
    """A promotion pull request may change its manifest and nothing else: anything more
    could be merged under the manifest's verdict."""
    from bot.workflows.recheck import recheck

    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    world.people.commit_file("bob", pr.head_ref, "README.md", "# models\n\nnote\n", "note")
    report = recheck(world.services, world.forge.get_pull_request(pr.number))
    assert not report.passed
    assert "also changes README.md" in report.failures[0]
    head = world.forge.get_pull_request(pr.number).head_sha
    assert world.forge.get_checks(head).is_passing("promobot/policy") is False


def _main_manifest(world: World) -> str:
    return world.forge.read_file(f"model-manifests/{ENV}/{MODEL}.yaml") or ""


@pytest.mark.parametrize("world", FORGE_KINDS, indirect=True)
def test_better_version_opens_one_pull_request_with_report_and_passing_status(
    world: World, tmp_path: Path
) -> None:
    """The heart of the product: a better retrain becomes exactly one reviewed pull request."""
    store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
    result = propose(
        world.services, store.decisions, MODEL, _version(world, Recipe.BETTER), ENV, NOW
    )
    assert result.outcome is ProposeOutcome.OPENED, result.detail
    pr = result.pull_request
    assert pr is not None and not pr.draft
    assert pr.head_ref == promotion_branch(MODEL, ENV)
    assert "| f1 |" in pr.body and "paired" in pr.body
    # The data as the policy names it, never a path of the bot's machine.
    data_root = world.services.data_root
    assert data_root is not None and str(data_root) not in pr.body and str(tmp_path) not in pr.body
    assert "| evaluation data | churn-eval.parquet |" in pr.body
    assert "--data churn-eval.parquet" in pr.body
    assert pr.requested_teams == ("ml-reviewers",)
    assert world.forge.get_pull_request(pr.number).requested_teams == ("ml-reviewers",)
    checks = world.forge.get_checks(pr.head_sha)
    assert checks.is_passing("promobot/policy") is True
    again = propose(
        world.services, store.decisions, MODEL, _version(world, Recipe.BETTER), ENV, NOW
    )
    assert again.outcome is ProposeOutcome.ALREADY_DECIDED
    assert len(world.forge.list_promotion_pull_requests()) == 1


@pytest.mark.parametrize("world", FORGE_KINDS, indirect=True)
def test_team_approval_on_head_leads_to_a_squash_merge(world: World) -> None:
    """Approval by a member of the policy's team makes the bot merge, one commit on main."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    before = world.forge.default_branch().sha
    waiting = gate(world.services, pr.number, NOW)
    assert waiting.merged_sha is None
    assert "approvals" in [r.name for r in waiting.readiness.rules if not r.passed]  # type: ignore[union-attr]
    _approve(world, "carol", pr.number)
    merged = gate(world.services, pr.number, NOW)
    assert merged.merged_sha is not None, merged.detail
    assert world.people.parents_of(merged.merged_sha) == [before]
    assert f"version: '{_version(world, Recipe.BETTER)}'" in _main_manifest(world)


def test_approval_outside_the_team_does_not_count(world: World) -> None:
    """Write access is not enough when the policy names teams."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    _approve(world, "bob", pr.number)
    result = gate(world.services, pr.number, NOW)
    assert result.merged_sha is None
    assert result.readiness is not None and not result.readiness.ready


@pytest.mark.parametrize("world", FORGE_KINDS, indirect=True)
def test_push_after_approval_blocks_merge_until_reapproved(world: World) -> None:
    """An approval counts for the head it was given on; a later push is never merged unseen."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    _approve(world, "carol", pr.number)
    _touch_manifest(world, pr.head_ref, "# reviewed by bob\n")
    blocked = gate(world.services, pr.number, NOW)
    assert blocked.merged_sha is None
    failed = {r.name for r in blocked.readiness.rules if not r.passed}  # type: ignore[union-attr]
    assert "approvals" in failed
    _approve(world, "carol", pr.number)
    # The new head has no policy verdict yet: the recheck sets it, as on a synchronize event.
    from bot.workflows.recheck import recheck

    assert recheck(world.services, world.forge.get_pull_request(pr.number)).passed
    assert gate(world.services, pr.number, NOW).merged_sha is not None


def test_worse_version_follows_on_rejected_draft(world: World) -> None:
    """A rejected challenger is not dropped: the policy says draft, so a draft with the report."""
    result = propose(world.services, None, MODEL, _version(world, Recipe.WORSE), ENV, NOW)
    assert result.outcome is ProposeOutcome.REJECTED
    pr = result.pull_request
    assert pr is not None and pr.draft
    assert "rejected" in pr.labels
    assert "rejected" in world.forge.get_pull_request(pr.number).labels
    assert world.forge.get_checks(pr.head_sha).is_passing("promobot/policy") is False
    assert gate(world.services, pr.number, NOW).merged_sha is None


def test_on_rejected_comment_reports_once_on_the_open_pull_request(world: World) -> None:
    """With `on_rejected: comment`, a worse version opens nothing; its report goes to the
    open promotion pull request, once however often it is proposed."""
    path = "policies/churn-team.yaml"
    text = (world.people.file_at("main", path) or "").replace(
        "on_rejected: draft", "on_rejected: comment"
    )
    world.people.commit_file("bob", "main", path, text, "Report rejections")
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    worse = _version(world, Recipe.WORSE)
    for _ in range(2):
        result = propose(world.services, None, MODEL, worse, ENV, NOW)
        assert result.outcome is ProposeOutcome.REJECTED
        assert result.detail.endswith(f"reported on #{pr.number}")
    marker = f"<!-- promobot:rejected:{MODEL}:{worse}:{ENV} -->"
    reports = [c for c in world.forge.list_comments(pr.number) if marker in c.body]
    assert len(reports) == 1
    assert len(world.forge.list_promotion_pull_requests()) == 1


def test_commands_hold_explain_and_refuse_strangers(world: World) -> None:
    """Comment commands act only for authorised people, and hold really blocks."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    refused = handle_comment(
        world.services, pr.number, "erin", "/promobot merge", NOW, comment_id=101
    )
    assert refused is not None and refused.detail.startswith("refused")
    assert (
        handle_comment(world.services, pr.number, "carol", "/promobot hold", NOW, comment_id=102)
        is not None
    )
    _approve(world, "carol", pr.number)
    held = gate(world.services, pr.number, NOW)
    assert held.merged_sha is None
    assert (
        handle_comment(world.services, pr.number, "carol", "/promobot explain", NOW, comment_id=103)
        is not None
    )
    comments = world.forge.list_comments(pr.number)
    assert any("no-hold" in c.body and "Why this pull request" in c.body for c in comments)
    assert sum(STATUS_MARKER in c.body for c in comments) == 1
    unheld = handle_comment(
        world.services, pr.number, "alice", "/promobot unhold", NOW, comment_id=104
    )
    assert unheld is not None and unheld.detail.startswith("merged")


def test_a_command_run_again_edits_its_answer_instead_of_repeating_it(world: World) -> None:
    """A redelivered comment, or one retried after a crash, leaves one answer per command."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None

    def answers() -> list[str]:
        return [c.body for c in world.forge.list_comments(pr.number) if "Why this" in c.body]

    for _ in range(2):
        handle_comment(world.services, pr.number, "carol", "/promobot explain", NOW, comment_id=7)
    assert len(answers()) == 1
    handle_comment(world.services, pr.number, "carol", "/promobot explain", NOW, comment_id=8)
    assert len(answers()) == 2
    for _ in range(2):
        handle_comment(world.services, pr.number, "erin", "/promobot merge", NOW, comment_id=9)
    refusals = [c for c in world.forge.list_comments(pr.number) if c.body.count("@erin only") == 1]
    assert len(refusals) == 1


def test_rollback_command_opens_a_labelled_revert(world: World) -> None:
    """`/promobot rollback` on a merged promotion proposes the revert through git."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    _approve(world, "carol", pr.number)
    assert gate(world.services, pr.number, NOW).merged_sha is not None
    result = handle_comment(
        world.services, pr.number, "carol", "/promobot rollback", NOW, comment_id=105
    )
    assert result is not None and result.detail.startswith("revert pull request")
    revert = [
        p
        for p in world.forge.list_promotion_pull_requests()
        if p.head_ref.startswith("promobot/revert/")
    ]
    assert len(revert) == 1 and "rollback" in revert[0].labels


def test_next_challenger_after_a_merged_promotion_with_a_human_commit(world: World) -> None:
    """A person's commit on a merged promotion's branch is kept by that pull request, so it must
    not block the next challenger forever."""
    pr = propose(world.services, None, MODEL, _version(world, Recipe.BETTER), ENV, NOW).pull_request
    assert pr is not None
    _touch_manifest(world, pr.head_ref, "# a note by bob\n")
    from bot.workflows.recheck import recheck

    assert recheck(world.services, world.forge.get_pull_request(pr.number)).passed
    _approve(world, "carol", pr.number)
    assert gate(world.services, pr.number, NOW).merged_sha is not None
    worse = propose(world.services, None, MODEL, _version(world, Recipe.WORSE), ENV, NOW)
    assert worse.outcome is ProposeOutcome.REJECTED, worse.detail
    assert worse.pull_request is not None and worse.pull_request.number != pr.number


def test_reconciliation_proposes_a_missed_version_once(world: World, tmp_path: Path) -> None:
    """MLflow does not redeliver: a tick proposes the newest undecided version, and only once."""
    from bot.workflows.reconcile import propose_missed_versions

    store = SqlEventStore(f"sqlite:///{tmp_path / 'store.db'}")
    first = propose_missed_versions(world.services, store.decisions, [ENV], NOW)
    assert [r.outcome for r in first] == [ProposeOutcome.REJECTED]  # v3, the newest, is worse
    assert propose_missed_versions(world.services, store.decisions, [ENV], NOW) == []
    newest = _version(world, Recipe.WORSE)
    decision = store.decisions.get("mlflow", MODEL, newest, ENV)
    assert decision is not None and decision.outcome == "rejected"
    store.close()


def test_service_routes_a_new_version_to_propose_and_counts_the_verdict(world: World) -> None:
    """The service's dispatcher: a registry event becomes a proposal, its verdict a metric."""
    from bot.domain.manifest import RegistryKind
    from bot.webhooks.events import ModelVersionCreated
    from bot.workflows.dispatch import Workflows

    verdicts: list[str] = []
    workflows = Workflows(services=world.services, decisions=None, on_verdict=verdicts.append)
    event = ModelVersionCreated(
        registry=RegistryKind.MLFLOW, model=MODEL, version=_version(world, Recipe.BETTER)
    )
    workflows.handle(event, "delivery-1")
    assert verdicts == ["promote"]
    assert len(world.forge.list_promotion_pull_requests()) == 1
