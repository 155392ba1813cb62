"""Merge readiness: approvals on the head only, from the right people, and every other rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.domain.policy import ApprovalSection, DeployWindow, ScheduleSection
from bot.domain.promotion import State
from bot.domain.readiness import MergeFacts, ReviewFact, approvals_on_head, merge_readiness
from tests.factories import make_policy

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
HEAD = "h" * 40


def facts(**overrides: Any) -> MergeFacts:
    values: dict[str, Any] = {
        "head_sha": HEAD,
        "is_open": True,
        "is_draft": False,
        "policy_check": True,
        "automerge_eligible": True,
        "reviews": (ReviewFact(user="carol", state="APPROVED", commit_id=HEAD),),
        "qualified_reviewers": frozenset({"carol"}),
        "bot_login": "promobot[bot]",
        "labels": (),
        "required_checks": {},
        "touches_policies_and_manifests": False,
    }
    values.update(overrides)
    return MergeFacts.model_validate(values)


def test_ready_and_automerge() -> None:
    """Everything in place: ready, and the bot merges on its own."""
    result = merge_readiness(facts(), make_policy(), NOW)
    assert result.ready and result.merge
    assert result.state is State.READY


@pytest.mark.parametrize(
    ("overrides", "failed"),
    [
        ({"reviews": (ReviewFact(user="carol", state="APPROVED", commit_id="old"),)}, "approvals"),
        ({"qualified_reviewers": frozenset()}, "approvals"),
        ({"policy_check": None}, "policy-verdict"),
        ({"policy_check": False}, "policy-verdict"),
        ({"labels": ("promobot:hold",)}, "no-hold"),
        ({"is_draft": True}, "open"),
        ({"touches_policies_and_manifests": True}, "separate-policy-changes"),
        ({"required_checks": {"ci": None}}, "check:ci"),
        ({"required_checks": {"ci": False}}, "check:ci"),
    ],
)
def test_each_rule_blocks(overrides: dict[str, Any], failed: str) -> None:
    """Each rule on its own keeps the pull request unmerged, and says so by name."""
    result = merge_readiness(facts(**overrides), make_policy(), NOW)
    assert not result.ready and not result.merge
    assert failed in {r.name for r in result.rules if not r.passed}


def test_later_change_request_cancels_approval_and_bot_never_counts() -> None:
    """Only each reviewer's latest verdict counts; the bot's approval is ignored."""
    reviews = [
        ReviewFact(user="carol", state="APPROVED", commit_id=HEAD),
        ReviewFact(user="carol", state="CHANGES_REQUESTED", commit_id=HEAD),
        ReviewFact(user="promobot[bot]", state="APPROVED", commit_id=HEAD),
        ReviewFact(user="dave", state="COMMENTED", commit_id=HEAD),
    ]
    assert approvals_on_head(reviews, HEAD, "promobot[bot]") == set()


def test_without_automerge_only_a_command_merges() -> None:
    """Ready is not merge: a person must ask when automerge does not apply."""
    ready = merge_readiness(facts(automerge_eligible=False), make_policy(), NOW)
    assert ready.ready and not ready.merge
    asked = merge_readiness(
        facts(automerge_eligible=False, merge_requested=True), make_policy(), NOW
    )
    assert asked.merge


def test_closed_window_names_the_next_opening() -> None:
    """Time rules say when to look again."""
    window = DeployWindow.model_validate("Mon-Fri 22:00-06:00 Europe/Rome")
    policy = make_policy(schedule=ScheduleSection(deploy_windows=(window,)))
    result = merge_readiness(facts(), policy, NOW)
    assert not result.ready
    assert result.next_evaluation_at == dt.datetime(2026, 12, 2, 21, 0, tzinfo=dt.UTC)
    assert result.state is State.BLOCKED


def test_two_approvals_required() -> None:
    """The count comes from the policy."""
    policy = make_policy(approval=ApprovalSection(required_approvals=2))
    assert not merge_readiness(facts(), policy, NOW).ready
