"""Gate and merge: read a promotion pull request's inputs once, decide readiness, act.

Readiness is recomputed from scratch for the head SHA: the inputs (manifests and
policy), then the facts (reviews, checks, team memberships) are read, the pure
`merge_readiness` decides, and the gate reports it and merges when allowed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.domain.layout import MANIFEST_FOLDER, POLICY_FOLDER, manifest_path, promotion_of
from bot.domain.manifest import ModelManifest
from bot.domain.policy import Policy
from bot.domain.promotion import describe
from bot.domain.readiness import MergeFacts, Readiness, ReviewFact, merge_readiness
from bot.domain.verdict import is_automerge_allowed, primary_gain
from bot.errors import UserInputError
from bot.forge.base import (
    CommitState,
    ForgeHeadMovedError,
    ForgeNotMergeableError,
    PullRequestInfo,
)
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.report.render import render_template
from bot.workflows.inputs import read_manifest, read_policy
from bot.workflows.services import Services

log = logging.getLogger(__name__)

STATUS_MARKER = "<!-- promobot:status -->"
MERGE_MARKER = "<!-- promobot:merge-refused -->"


@dataclass(frozen=True)
class GateResult:
    """What the gate decided and did."""

    readiness: Readiness | None
    merged_sha: str | None
    detail: str


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


def qualified_reviewers(services: Services, policy: Policy, logins: set[str]) -> frozenset[str]:
    """Reviewers whose approval counts: members of a policy team, or writers without teams."""
    owner, teams = services.forge_owner(), policy.approval.teams
    counted = set()
    for login in logins:
        if teams:
            if any(services.forge.is_team_member(owner, team, login) for team in teams):
                counted.add(login)
        elif services.forge.collaborator_permission(login).can_write:
            counted.add(login)
    return frozenset(counted)


def read_facts(services: Services, inputs: PromotionInputs, merge_requested: bool) -> MergeFacts:
    """Everything readiness needs, read from the forge for the current head."""
    pr, policy = inputs.pr, inputs.policy
    reviews = services.forge.list_reviews(pr.number)
    checks = services.forge.get_checks(pr.head_sha)
    files = pr.files or ()
    gain = primary_gain(
        policy, inputs.head.metrics, None if inputs.base is None else inputs.base.metrics
    )
    return MergeFacts(
        head_sha=pr.head_sha,
        is_open=pr.state.value == "open" and not pr.merged,
        is_draft=pr.draft,
        policy_check=checks.is_passing(services.status_context),
        automerge_eligible=is_automerge_allowed(policy, True, gain),
        reviews=tuple(
            ReviewFact(user=r.user, state=r.state, commit_id=r.commit_id) for r in reviews
        ),
        qualified_reviewers=qualified_reviewers(services, policy, {r.user for r in reviews}),
        bot_login=services.forge.bot_login,
        labels=pr.labels,
        required_checks={name: checks.is_passing(name) for name in policy.approval.required_checks},
        touches_policies_and_manifests=any(f.startswith(f"{POLICY_FOLDER}/") for f in files)
        and any(f.startswith(f"{MANIFEST_FOLDER}/") for f in files),
        merge_requested=merge_requested,
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
) -> GateResult:
    """Recompute readiness of promotion pull request `number`; merge when ready and allowed.

    `pr` or `inputs` are what the caller has just read, so they are not read again.
    """
    if inputs is None:
        pr = pr if pr is not None else services.forge.get_pull_request(number)
        if pr.merged or pr.state.value != "open":
            return GateResult(None, None, f"#{number} is not an open promotion pull request")
        try:
            found = read_inputs(services, pr)
        except UserInputError as exc:
            report_unreadable(services, pr, exc)
            return GateResult(None, None, str(exc))
        if found is None:
            return GateResult(None, None, f"#{number} is not an open promotion pull request")
        inputs = found
    facts = read_facts(services, inputs, merge_requested)
    readiness = merge_readiness(facts, inputs.policy, now)
    post_status(services, inputs.pr, readiness)
    if not readiness.merge:
        return GateResult(readiness, None, f"#{number}: {readiness.state.value}")
    return _merge(services, inputs.pr, inputs.head, readiness)


def report_unreadable(services: Services, pr: PullRequestInfo, error: UserInputError) -> None:
    """A manifest or policy the bot cannot read fails the verdict, with the reason, once.

    A head whose verdict already failed keeps it: setting it again would only cause
    another status event.
    """
    if services.forge.get_checks(pr.head_sha).is_passing(services.status_context) is not False:
        services.forge.set_commit_status(
            pr.head_sha,
            CommitState.FAILURE,
            str(error).splitlines()[0][:140],
            context=services.status_context,
        )
    services.forge.upsert_comment(
        pr.number,
        STATUS_MARKER,
        f"{STATUS_MARKER}\n**promobot cannot evaluate this pull request**\n\n```\n{error}\n```\n",
    )


def post_status(services: Services, pr: PullRequestInfo, readiness: Readiness) -> None:
    """The one status comment, edited in place."""
    body = render_template(
        "status_comment.md.j2",
        services.templates_root,
        readiness=readiness,
        head_sha=pr.head_sha,
        state_description=describe(readiness.state),
    )
    services.forge.upsert_comment(pr.number, STATUS_MARKER, f"{STATUS_MARKER}\n{body}")


def _merge(
    services: Services, pr: PullRequestInfo, head: ModelManifest, readiness: Readiness
) -> GateResult:
    title = f"Promote {head.model} v{head.version} to {head.environment} (#{pr.number})"
    message = (
        f"Champion v{head.evaluation.champion_version or '-'} -> v{head.version}.\n\n"
        f"Merged by promobot: every rule of the policy passed on {pr.head_sha}."
    )
    try:
        merged = services.forge.merge(
            pr.number, expected_head_sha=pr.head_sha, title=title, message=message
        )
    except ForgeHeadMovedError:
        return GateResult(
            readiness, None, f"#{pr.number}: head moved; readiness is recomputed on the new head"
        )
    except ForgeNotMergeableError as exc:
        note = f"{MERGE_MARKER}\npromobot could not merge {pr.head_sha[:7]}: {exc.message}"
        services.forge.upsert_comment(pr.number, MERGE_MARKER, note)
        return GateResult(readiness, None, f"#{pr.number}: not mergeable: {exc.message}")
    log.info("merged #%s as %s", pr.number, merged.sha)
    return GateResult(readiness, merged.sha, f"merged #{pr.number} as {merged.sha[:7]}")
