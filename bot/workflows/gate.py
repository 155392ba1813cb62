"""Gate and merge: read a promotion pull request's inputs once, decide readiness, act.

Readiness is recomputed from scratch for the head SHA: the inputs (manifests and
policy), then the facts (reviews, checks, team memberships) are read, the pure
`merge_readiness` decides, and the gate reports it and merges when allowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.layout import MANIFEST_FOLDER, POLICY_FOLDER, manifest_path, promotion_of
from bot.domain.manifest import ModelManifest
from bot.domain.policy import Policy
from bot.domain.promotion import describe
from bot.domain.readiness import (
    MergeFacts,
    Readiness,
    ReviewFact,
    approvals_on_head,
    merge_readiness,
)
from bot.domain.stages import StageView
from bot.domain.verdict import is_automerge_allowed, primary_gain
from bot.errors import UserInputError
from bot.forge.base import (
    ForgeHeadMovedError,
    ForgeMergeBlockedError,
    ForgeMergePendingError,
    ForgeNotMergeableError,
    ForgePermissionError,
    ForgeTeamNotFoundError,
    MergeBlock,
    PromotionOutcome,
    PullRequestInfo,
)
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.report.render import render_template
from bot.workflows.inputs import read_manifest, read_policy
from bot.workflows.services import Services
from bot.workflows.stage_views import stage_views
from bot.workflows.verdicts import fail_unreadable

log = logging.getLogger(__name__)

STATUS_MARKER = "<!-- promobot:status -->"
MERGE_MARKER = "<!-- promobot:merge-refused -->"


@dataclass(frozen=True)
class GateResult:
    """What the gate decided and did."""

    readiness: Readiness | None
    merged_sha: str | None
    detail: str
    head_sha: str | None = None


@dataclass(frozen=True)
class PromotionInputs:
    """What a promotion pull request is judged on, read once per event."""

    pr: PullRequestInfo
    model: str
    environment: str
    head: ModelManifest
    base: ModelManifest | None
    policy: Policy


def read_inputs(services: Services, pr: PullRequestInfo) -> PromotionInputs | None:
    """The manifests and policy of promotion pull request `pr`; None when it is none.

    A manifest or policy that cannot be read is a `UserInputError` saying where.
    """
    target = promotion_of(pr.head_ref)
    if target is None:
        return None
    model, environment = target
    return PromotionInputs(
        pr=pr,
        model=model,
        environment=environment,
        head=head_manifest(services, pr, model, environment),
        base=read_manifest(services.forge, model, environment),
        policy=read_policy(services.forge, model, environment),
    )


def qualified_reviewers(
    services: Services, policy: Policy, logins: set[str]
) -> tuple[frozenset[str], tuple[str, ...]]:
    """Reviewers whose approval counts (members of a policy team, or writers without teams),
    and why team membership could not be read, when it could not."""
    owner, teams = services.forge_owner(), policy.approval.teams
    counted: set[str] = set()
    problems: dict[str, str] = {}
    for login in sorted(logins):
        if not teams:
            if services.forge.collaborator_permission(login).can_write:
                counted.add(login)
            continue
        for team in teams:
            if team in problems:
                continue
            try:
                if services.forge.is_team_member(owner, team, login):
                    counted.add(login)
                    break
            except (ForgePermissionError, ForgeTeamNotFoundError) as error:
                problems[team] = f"team {team}: {error}"
    return frozenset(counted), tuple(problems.values())


def read_facts(services: Services, inputs: PromotionInputs, merge_requested: bool) -> MergeFacts:
    """Everything readiness needs, read from the forge for the current head."""
    pr, policy = inputs.pr, inputs.policy
    reviews = services.forge.list_reviews(pr.number)
    checks = services.forge.get_checks(pr.head_sha)
    files = pr.files or ()
    gain = primary_gain(
        policy, inputs.head.metrics, None if inputs.base is None else inputs.base.metrics
    )
    qualified, problems = qualified_reviewers(services, policy, {r.user for r in reviews})
    return MergeFacts(
        head_sha=pr.head_sha,
        is_open=pr.state.value == "open" and not pr.merged,
        is_draft=pr.draft,
        policy_check=checks.verdict(),
        automerge_eligible=is_automerge_allowed(policy, True, gain),
        reviews=tuple(
            ReviewFact(user=r.user, state=r.state, commit_id=r.commit_id) for r in reviews
        ),
        qualified_reviewers=qualified,
        approval_problems=problems,
        bot_login=services.forge.bot_login,
        labels=pr.labels,
        required_checks={name: checks.is_passing(name) for name in policy.approval.required_checks},
        touches_policies_and_manifests=any(f.startswith(f"{POLICY_FOLDER}/") for f in files)
        and any(f.startswith(f"{MANIFEST_FOLDER}/") for f in files),
        merge_requested=merge_requested,
        ignored_verdicts=tuple(found.describe() for found in checks.foreign_verdicts()),
    )


def head_manifest(
    services: Services, pr: PullRequestInfo, model: str, environment: str
) -> ModelManifest:
    """The manifest as the pull request's head has it."""
    path = manifest_path(model, environment)
    text = services.forge.read_file(path, pr.head_sha)
    if text is None:
        raise UserInputError(f"{path} is missing on {pr.head_ref}")
    try:
        return load_manifest_text(text, path)
    except InvalidFile as exc:
        raise UserInputError(f"{path} on {pr.head_ref} is invalid:\n{exc}") from exc


def gate(
    services: Services,
    number: int,
    now: dt.datetime,
    *,
    merge_requested: bool = False,
    pr: PullRequestInfo | None = None,
    inputs: PromotionInputs | None = None,
    retry_refused: bool = True,
) -> GateResult:
    """Recompute readiness of promotion pull request `number`; merge when ready and allowed.

    `pr` or `inputs` are what the caller has just read, so they are not read again. A
    merge GitHub refused on this head is tried again only when `retry_refused` (an event
    says something changed), not on a clock tick.
    """
    if inputs is None:
        pr = pr if pr is not None else services.forge.get_pull_request(number)
        if pr.merged or pr.state.value != "open":
            return GateResult(None, None, f"#{number} is not an open promotion pull request")
        try:
            found = read_inputs(services, pr)
        except UserInputError as exc:
            report_unreadable(services, pr, exc)
            return GateResult(None, None, str(exc), pr.head_sha)
        if found is None:
            return GateResult(None, None, f"#{number} is not an open promotion pull request")
        inputs = found
    facts = read_facts(services, inputs, merge_requested)
    readiness = merge_readiness(facts, inputs.policy, now)
    stages: list[StageView] = []
    if inputs.policy.stages:
        try:
            stages = stage_views(services, inputs.head.model, inputs.head.environment, now)
        except UserInputError as error:  # the stage's own promotion reports it
            log.warning("stages of #%s: %s", number, error)
    post_status(services, inputs.pr, readiness, stages)
    head = inputs.pr.head_sha
    if not readiness.merge:
        return GateResult(readiness, None, f"#{number}: {readiness.state.value}", head)
    if not retry_refused and _refused_on_head(services, inputs.pr):
        detail = f"#{number}: GitHub refused the merge of this head"
        return GateResult(readiness, None, detail, head)
    approvers = sorted(
        approvals_on_head(facts.reviews, facts.head_sha, facts.bot_login)
        & facts.qualified_reviewers
    )
    merged = _merge(services, inputs.pr, inputs.head, readiness, approvers)
    return dataclasses.replace(merged, head_sha=head)


def report_unreadable(services: Services, pr: PullRequestInfo, error: UserInputError) -> None:
    """A manifest or policy the bot cannot read fails the verdict, with the reason, once.

    A head whose verdict already failed keeps it: setting it again would only cause
    another status event.
    """
    if services.forge.get_checks(pr.head_sha).verdict() is not False:
        fail_unreadable(services, pr.head_sha, error)
    services.forge.upsert_comment(
        pr.number,
        STATUS_MARKER,
        f"{STATUS_MARKER}\n**promobot cannot evaluate this pull request**\n\n```\n{error}\n```\n",
    )


def post_status(
    services: Services,
    pr: PullRequestInfo,
    readiness: Readiness,
    stages: Sequence[StageView] = (),
) -> None:
    """The one status comment, edited in place; with the model's path when it has one."""
    body = render_template(
        "status_comment.md.j2",
        services.templates_root,
        readiness=readiness,
        head_sha=pr.head_sha,
        state_description=describe(readiness.state),
        stages=stages,
    )
    services.forge.upsert_comment(pr.number, STATUS_MARKER, f"{STATUS_MARKER}\n{body}")


APPROVED_BY = "Approved-by"
"""Trailer of a promotion's merge commit naming each approval that counted."""


def merge_message(head: ModelManifest, head_sha: str, approvers: Sequence[str]) -> str:
    """The squash commit's message: what changed, on which head, and who approved it."""
    trailers = "".join(f"\n{APPROVED_BY}: {login}" for login in approvers)
    return (
        f"Champion v{head.evaluation.champion_version or '-'} -> v{head.version}.\n\n"
        f"Merged by promobot: every rule of the policy passed on {head_sha}.\n{trailers}"
    )


def _merge(
    services: Services,
    pr: PullRequestInfo,
    head: ModelManifest,
    readiness: Readiness,
    approvers: Sequence[str],
) -> GateResult:
    title = f"Promote {head.model} v{head.version} to {head.environment} (#{pr.number})"
    message = merge_message(head, pr.head_sha, approvers)
    try:
        merged = services.forge.merge(
            pr.number, expected_head_sha=pr.head_sha, title=title, message=message
        )
    except ForgeHeadMovedError:
        return GateResult(
            readiness, None, f"#{pr.number}: head moved; readiness is recomputed on the new head"
        )
    except ForgeMergeBlockedError as exc:
        if exc.kind is MergeBlock.BEHIND:
            return _bring_up_to_date(services, pr, readiness)
        return _refused(services, pr, readiness, exc.reason)
    except ForgeMergePendingError:
        return GateResult(
            readiness, None, f"#{pr.number}: GitHub is still computing mergeability; later"
        )
    except ForgeNotMergeableError as exc:
        return _refused(services, pr, readiness, exc.message)
    log.info("merged #%s as %s", pr.number, merged.sha)
    return GateResult(readiness, merged.sha, f"merged #{pr.number} as {merged.sha[:7]}")


def _refused(
    services: Services, pr: PullRequestInfo, readiness: Readiness, reason: str
) -> GateResult:
    """GitHub's branch protection or rulesets refuse the merge: say why, once per head."""
    note = (
        f"{MERGE_MARKER}\n<!-- promobot:refused-head:{pr.head_sha} -->\n"
        f"**GitHub refused to merge {pr.head_sha[:7]}**: {reason}\n\n"
        "promobot tries again when something changes (a review, a check, a push), not "
        "on every tick."
    )
    services.forge.upsert_comment(pr.number, MERGE_MARKER, note)
    return GateResult(readiness, None, f"#{pr.number}: GitHub refused the merge: {reason}")


def _refused_on_head(services: Services, pr: PullRequestInfo) -> bool:
    mark = f"<!-- promobot:refused-head:{pr.head_sha} -->"
    return any(mark in comment.body for comment in services.forge.list_comments(pr.number))


def _bring_up_to_date(services: Services, pr: PullRequestInfo, readiness: Readiness) -> GateResult:
    """The base moved on: the bot's one commit is made again on the new base; the new head
    gets its verdict and its approvals again (GitHub dismisses stale ones)."""
    updated = services.forge.update_promotion_branch(pr.number, expected_head_sha=pr.head_sha)
    if updated.outcome is PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT:
        return _refused(services, pr, readiness, updated.detail)
    return GateResult(
        readiness, None, f"#{pr.number}: brought up to date as {updated.commit_sha[:7]}"
    )
