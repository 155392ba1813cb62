"""May this promotion pull request be merged now? Recomputed from scratch, for the head SHA.

The workflow gathers facts (reviews, team membership, statuses, labels, files)
and passes them in with `now`; this module decides. It never reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.policy import Policy
from bot.domain.promotion import State, open_state
from bot.domain.verdict import RuleResult
from bot.domain.windows import is_open, next_opening


class ReviewFact(BaseModel):
    """One submitted review, as the forge reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(description="Reviewer login.")
    state: str = Field(description="APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED.")
    commit_id: str | None = Field(description="Head SHA the review was given on.")


class MergeFacts(BaseModel):
    """Everything readiness depends on, gathered by the workflow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    head_sha: str = Field(description="The pull request's current head.")
    is_open: bool = Field(description="Open (not closed, not merged).")
    is_draft: bool = Field(description="A draft cannot be merged.")
    policy_check: bool | None = Field(
        description="The promobot/policy status on the head: passed, failed, or None if absent."
    )
    automerge_eligible: bool = Field(description="The verdict allows merging without a command.")
    reviews: tuple[ReviewFact, ...] = Field(description="All reviews, oldest first.")
    qualified_reviewers: frozenset[str] = Field(
        description="Logins whose approval counts (members of the policy's teams)."
    )
    bot_login: str = Field(description="The bot's login; its approvals never count.")
    labels: tuple[str, ...] = Field(description="Labels on the pull request.")
    required_checks: Mapping[str, bool | None] = Field(
        description="Each required check: passed, failed, or None while pending or absent."
    )
    touches_policies_and_manifests: bool = Field(
        description="The pull request changes policies/ and model-manifests/ together."
    )
    merge_requested: bool = Field(
        default=False, description="An authorised person commented `/promobot merge`."
    )
    approval_problems: tuple[str, ...] = Field(
        default=(),
        description="Why the policy's teams could not be read (a permission, a team GitHub "
        "does not show): their approvals cannot count until it is fixed.",
    )
    ignored_verdicts: tuple[str, ...] = Field(
        default=(),
        description="Statuses or check runs named like the verdict that someone else set: "
        "they never count, and the status comment says so.",
    )


class Readiness(BaseModel):
    """The merge decision and its reasons."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ready: bool = Field(description="Every rule passed.")
    merge: bool = Field(description="Ready, and automerge or a merge command allows merging.")
    state: State = Field(description="Where the promotion stands.")
    rules: tuple[RuleResult, ...] = Field(description="One result per rule.")
    next_evaluation_at: dt.datetime | None = Field(
        description="When to look again (a deploy window opens); None when no time rule blocks."
    )


def approvals_on_head(reviews: Sequence[ReviewFact], head_sha: str, bot_login: str) -> set[str]:
    """Logins whose latest review approves the head commit (the bot excluded)."""
    latest: dict[str, ReviewFact] = {}
    for review in reviews:
        if review.state.upper() in {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}:
            latest[review.user] = review
    return {
        user
        for user, review in latest.items()
        if review.state.upper() == "APPROVED"
        and review.commit_id == head_sha
        and user.lower() != bot_login.lower()
    }


def _rule(name: str, passed: bool, detail: str, **values: float | None) -> RuleResult:
    return RuleResult(name=name, passed=passed, detail=detail, **values)


def _approval_rule(facts: MergeFacts, policy: Policy) -> RuleResult:
    approvers = approvals_on_head(facts.reviews, facts.head_sha, facts.bot_login)
    counted = sorted(approvers & facts.qualified_reviewers)
    needed = policy.approval.required_approvals
    teams = ", ".join(policy.approval.teams) or "people with write access"
    missing = max(0, needed - len(counted))
    detail = (
        f"{len(counted)} of {needed} approval(s) on {facts.head_sha[:7]} from {teams}"
        + (f" ({', '.join(counted)})" if counted else "")
        + (f"; {missing} more needed" if missing else "")
        + "".join(f"; cannot read {problem}" for problem in facts.approval_problems)
    )
    return _rule("approvals", missing == 0, detail, observed=len(counted), required=needed)


def _check_rules(facts: MergeFacts) -> list[RuleResult]:
    results = []
    for name, passed in sorted(facts.required_checks.items()):
        state = {True: "passed", False: "failed", None: "pending or missing"}[passed]
        results.append(_rule(f"check:{name}", passed is True, f"required check `{name}` {state}"))
    return results


def merge_readiness(facts: MergeFacts, policy: Policy, now: dt.datetime) -> Readiness:
    """Rule by rule, whether the head SHA may be merged now."""
    hold = policy.approval.hold_label
    policy_state = {True: "passed", False: "failed", None: "has not run on this commit"}
    rules = [
        _rule(
            "open",
            facts.is_open and not facts.is_draft,
            "open and not a draft" if facts.is_open and not facts.is_draft else "closed or a draft",
        ),
        _rule(
            "separate-policy-changes",
            not facts.touches_policies_and_manifests,
            "changes policies/ and model-manifests/ together; split them into two pull requests"
            if facts.touches_policies_and_manifests
            else "does not change policies together with manifests",
        ),
        _rule(
            "policy-verdict",
            facts.policy_check is True,
            f"the promobot/policy check {policy_state[facts.policy_check]}"
            + (
                f"; ignored, as not promobot's own: {'; '.join(facts.ignored_verdicts)}"
                if facts.ignored_verdicts
                else ""
            ),
        ),
        _approval_rule(facts, policy),
        *_check_rules(facts),
        _rule(
            "no-hold",
            hold not in facts.labels,
            f"label `{hold}` holds the merge; `/promobot unhold` releases it"
            if hold in facts.labels
            else f"no `{hold}` label",
        ),
    ]
    windows = policy.schedule.deploy_windows
    window_open = is_open(windows, now)
    opening = None if window_open else next_opening(windows, now)
    rules.append(
        _rule(
            "deploy-window",
            window_open,
            "inside a deploy window"
            if window_open
            else f"outside the deploy windows; the next opens at {opening:%Y-%m-%d %H:%M} UTC"
            if opening
            else "outside the deploy windows",
        )
    )
    ready = all(r.passed for r in rules)
    return Readiness(
        ready=ready,
        merge=ready and (facts.automerge_eligible or facts.merge_requested),
        state=open_state(facts.policy_check, {r.name for r in rules if not r.passed}),
        rules=tuple(rules),
        next_evaluation_at=opening,
    )
