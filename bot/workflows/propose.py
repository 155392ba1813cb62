"""Propose: a new model version becomes (or updates) the one promotion pull request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import bot
from bot.domain.layout import manifest_path, promotion_branch
from bot.domain.pull_request_plan import LABEL_REJECTED, PullRequestPlan, plan_pull_request
from bot.domain.record import DecisionRecord, StageEvidence, dump_record, make_record
from bot.domain.verdict import Outcome, Verdict, decide
from bot.forge.base import (
    ForgeDraftsRefusedError,
    PromotionOutcome,
    PromotionPR,
    PullRequestInfo,
    ReviewRequestProblem,
)
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.formats.writing import dump_manifest
from bot.registry.base import version_sort_key
from bot.report.render import ReportContext, render_report, render_template
from bot.signing import SIGNATURE_SUFFIX
from bot.store.base import DecisionLog
from bot.workflows.inputs import Proposal, gather, proposed_manifest
from bot.workflows.services import Services
from bot.workflows.verdicts import post_verdict

log = logging.getLogger(__name__)


class ProposeOutcome(enum.StrEnum):
    """What the propose workflow did."""

    OPENED = "opened"
    UPDATED = "updated"
    REJECTED = "rejected"
    ALREADY_DECIDED = "already_decided"
    ALREADY_SERVING = "already_serving"
    SUPERSEDED = "superseded"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class ProposeResult:
    """The outcome, the verdict and the pull request, if any."""

    outcome: ProposeOutcome
    detail: str
    verdict: Verdict | None = None
    pull_request: PullRequestInfo | None = None


def _open_pr_version(
    services: Services, model: str, environment: str
) -> tuple[PullRequestInfo, str] | None:
    branch, path = promotion_branch(model, environment), manifest_path(model, environment)
    for pr in services.forge.list_promotion_pull_requests():
        if pr.head_ref == branch:
            text = services.forge.read_file(path, pr.head_sha)
            try:
                version = load_manifest_text(text or "", path).version
            except InvalidFile:
                return pr, ""
            return pr, version
    return None


def propose(
    services: Services,
    decisions: DecisionLog | None,
    model: str,
    version: str,
    environment: str,
    now: dt.datetime,
    registry: str = "mlflow",
    stage: StageEvidence | None = None,
) -> ProposeResult:
    """Evaluate `version` against the champion and open or update the promotion pull request.

    `registry` names where the version lives, for the decision log; `stage` is how it did
    in the previous stage of the policy's path, for a later stage.
    """
    if decisions is not None and (done := decisions.get(registry, model, version, environment)):
        return ProposeResult(
            ProposeOutcome.ALREADY_DECIDED, f"{model} v{version}: {done.outcome} before"
        )
    existing = _open_pr_version(services, model, environment)
    if existing and existing[1] and version_sort_key(existing[1]) > version_sort_key(version):
        return _record(
            registry,
            decisions,
            model,
            version,
            environment,
            ProposeResult(
                ProposeOutcome.SUPERSEDED,
                f"v{existing[1]} is already proposed in #{existing[0].number}",
            ),
        )
    proposal = dataclasses.replace(gather(services, model, version, environment), stage=stage)
    if proposal.champion is not None and proposal.champion.version == version:
        return _record(
            registry,
            decisions,
            model,
            version,
            environment,
            ProposeResult(
                ProposeOutcome.ALREADY_SERVING,
                f"{model} v{version} already serves in {environment}",
            ),
        )
    verdict = decide(proposal.comparison, proposal.policy)
    result = _execute(services, proposal, verdict, now, existing[0] if existing else None)
    log.info(
        "propose %s v%s in %s: %s (%s)", model, version, environment, result.outcome, result.detail
    )
    return _record(registry, decisions, model, version, environment, result)


def _record(
    registry: str,
    decisions: DecisionLog | None,
    model: str,
    version: str,
    environment: str,
    result: ProposeResult,
) -> ProposeResult:
    if decisions is not None and result.outcome is not ProposeOutcome.BLOCKED:
        url = result.pull_request.url if result.pull_request else ""
        decisions.record(
            registry, model, version, environment, result.outcome.value, url or result.detail
        )
    return result


def render_body(
    services: Services,
    proposal: Proposal,
    verdict: Verdict,
    now: dt.datetime,
    note: str | None = None,
) -> str:
    """The bot's part of the pull request body: summary, manifest change and report."""
    ctx = ReportContext(
        model=proposal.model,
        environment=proposal.environment,
        champion_version=None if proposal.champion is None else proposal.champion.version,
        challenger_version=proposal.challenger.version,
        policy_names=proposal.policy.names,
        generated_at=now,
    )
    report = render_report(proposal.comparison, verdict, ctx, services.templates_root)
    return render_template(
        "pr_body.md.j2",
        services.templates_root,
        ctx=ctx,
        verdict=verdict,
        report=report,
        policy=proposal.policy,
        challenger=proposal.challenger,
        note=note,
        stage=proposal.stage,
    )


def status_line(verdict: Verdict) -> str:
    """The commit status description (GitHub keeps 140 characters)."""
    if verdict.verdict is Outcome.PROMOTE:
        gain = verdict.primary_improvement
        change = "" if gain is None else f" {verdict.primary_metric} {gain:+.4f}"
        return f"promote:{change}, {len(verdict.rules)} rule(s) passed"[:140]
    names = ", ".join(r.name for r in verdict.failed)
    return f"reject: {names}"[:140]


def _execute(
    services: Services,
    proposal: Proposal,
    verdict: Verdict,
    now: dt.datetime,
    existing: PullRequestInfo | None,
) -> ProposeResult:
    plan = plan_pull_request(verdict, proposal.policy.on_rejected)
    if not plan.open_pull_request:
        return _comment_only(services, proposal, verdict, existing)
    try:
        pr = _open_or_update(services, proposal, verdict, now, plan)
    except ForgeDraftsRefusedError:
        plan = plan_pull_request(verdict, proposal.policy.on_rejected, drafts_allowed=False)
        pr = _open_or_update(services, proposal, verdict, now, plan)
    if pr.outcome is PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT:
        return ProposeResult(ProposeOutcome.BLOCKED, pr.detail, verdict, pr.pull_request)
    info = pr.pull_request
    if LABEL_REJECTED in info.labels and LABEL_REJECTED not in plan.labels:
        services.forge.remove_label(info.number, LABEL_REJECTED)
    if info.draft != plan.draft:
        try:
            info = services.forge.set_draft(info.number, plan.draft)
        except ForgeDraftsRefusedError:
            # The pull request stays open and labelled rejected; its failing verdict holds it.
            plan = plan_pull_request(verdict, proposal.policy.on_rejected, drafts_allowed=False)
    post_verdict(
        services,
        pr.commit_sha,
        plan.verdict_passes,
        status_line(verdict),
        summary=_verdict_summary(verdict),
    )
    _report_review_problems(services, info.number, pr.review_problems)
    if plan.close:
        info = services.forge.close_pull_request(
            info.number,
            render_template(
                "rejected_comment.md.j2",
                services.templates_root,
                verdict=verdict,
                proposal=proposal,
                closed=True,
            ),
        )
        return ProposeResult(ProposeOutcome.REJECTED, f"closed #{info.number}", verdict, info)
    outcome = (
        ProposeOutcome.REJECTED
        if not plan.verdict_passes
        else (
            ProposeOutcome.OPENED
            if pr.outcome is PromotionOutcome.CREATED
            else ProposeOutcome.UPDATED
        )
    )
    return ProposeResult(outcome, pr.detail, verdict, info)


def _open_or_update(
    services: Services,
    proposal: Proposal,
    verdict: Verdict,
    now: dt.datetime,
    plan: PullRequestPlan,
) -> PromotionPR:
    manifest = proposed_manifest(proposal)
    title = f"Promote {proposal.model} v{proposal.challenger.version} to {proposal.environment}"
    record = decision_record(proposal, verdict, now)
    record_text = dump_record(record)
    files = {record.path(): record_text}
    if services.sign_record is not None:
        files[record.path() + SIGNATURE_SUFFIX] = services.sign_record(record_text)
    return services.forge.open_or_update_promotion(
        model=proposal.model,
        environment=proposal.environment,
        manifest_path=manifest.path(),
        manifest_text=dump_manifest(manifest),
        title=plan.title_prefix + title,
        body=render_body(services, proposal, verdict, now, plan.note),
        labels=plan.labels,
        team_reviewers=proposal.policy.approval.teams if plan.request_reviews else (),
        draft=plan.draft,
        extra_files=files,
    )


def decision_record(proposal: Proposal, verdict: Verdict, now: dt.datetime) -> DecisionRecord:
    """What this decision was made on, as committed beside the manifest."""
    return make_record(
        model=proposal.model,
        environment=proposal.environment,
        version=proposal.challenger.version,
        champion_version=None if proposal.champion is None else proposal.champion.version,
        comparison=proposal.comparison,
        policy=proposal.policy,
        verdict=verdict,
        decided_at=now,
        promobot_version=bot.__version__,
        stage=proposal.stage,
    )


def _verdict_summary(verdict: Verdict) -> str:
    lines = [
        f"**{verdict.verdict.value}**: {len(verdict.failed)} of {len(verdict.rules)} rule(s) failed"
    ]
    lines += [f"- {'✅' if r.passed else '❌'} `{r.name}`: {r.detail}" for r in verdict.rules]
    return "\n".join(lines)


def _report_review_problems(
    services: Services, number: int, problems: Sequence[ReviewRequestProblem]
) -> None:
    """GitHub refused a review request: the pull request says so, so someone can fix it."""
    if not problems:
        return
    marker = "<!-- promobot:review-requests -->"
    lines = [f"- {problem.describe()}" for problem in problems]
    services.forge.upsert_comment(
        number,
        marker,
        f"{marker}\n**promobot could not ask for every review:**\n\n" + "\n".join(lines),
    )


def _comment_only(
    services: Services, proposal: Proposal, verdict: Verdict, existing: PullRequestInfo | None
) -> ProposeResult:
    """`on_rejected: comment`: no pull request; the report goes to the open promotion
    pull request, or else to the pull request that promoted the champion."""
    detail = f"{proposal.model} v{proposal.challenger.version} rejected; no pull request opened"
    champion_pr = None if proposal.champion is None else proposal.champion.evaluation.pull_request
    target = existing.number if existing is not None else champion_pr
    if target is not None:
        # One report per rejected version: proposing it again edits it.
        marker = (
            f"<!-- promobot:rejected:{proposal.model}:{proposal.challenger.version}"
            f":{proposal.environment} -->"
        )
        services.forge.upsert_comment(
            target,
            marker,
            render_template(
                "rejected_comment.md.j2",
                services.templates_root,
                verdict=verdict,
                proposal=proposal,
                closed=False,
            ),
        )
        detail += f"; reported on #{target}"
    return ProposeResult(ProposeOutcome.REJECTED, detail, verdict, existing)
