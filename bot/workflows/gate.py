"""Gate and merge: recompute readiness for the head SHA, report it, merge when allowed."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.domain.comparison import METRIC_DIRECTIONS, Direction
from bot.domain.manifest import ModelManifest, manifest_path
from bot.domain.policy import Policy
from bot.domain.promotion import describe
from bot.domain.readiness import MergeFacts, Readiness, ReviewFact, merge_readiness
from bot.errors import UserInputError
from bot.forge.base import (
    CommitState,
    ForgeHeadMovedError,
    ForgeNotMergeableError,
    PullRequestInfo,
    promotion_of,
)
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.report.render import render_template
from bot.workflows.inputs import Environment, read_manifest, read_policy

log = logging.getLogger(__name__)

STATUS_MARKER = "<!-- promobot:status -->"
MERGE_MARKER = "<!-- promobot:merge-refused -->"


@dataclass(frozen=True)
class GateResult:
    """What the gate decided and did."""

    readiness: Readiness | None
    merged_sha: str | None
    detail: str


def qualified_reviewers(env: Environment, policy: Policy, logins: set[str]) -> frozenset[str]:
    """Reviewers whose approval counts: members of a policy team, or writers without teams."""
    owner = env.forge_owner()
    counted = set()
    for login in logins:
        if policy.approval.teams:
            if any(env.forge.is_team_member(owner, team, login) for team in policy.approval.teams):
                counted.add(login)
        elif env.forge.collaborator_permission(login).can_write:
            counted.add(login)
    return frozenset(counted)


def automerge_allowed(policy: Policy, head: ModelManifest, base: ModelManifest | None) -> bool:
    """Automerge from the manifests' own metrics (which the policy check verified)."""
    rule = policy.approval.automerge
    if not rule.enabled:
        return False
    if rule.min_improvement is None:
        return True
    metric = policy.compare.primary.metric
    if base is None or metric not in head.metrics or metric not in base.metrics:
        return False
    direction = policy.compare.primary.direction or METRIC_DIRECTIONS.get(
        metric, Direction.MAXIMIZE
    )
    gain = head.metrics[metric] - base.metrics[metric]
    return (gain if direction is Direction.MAXIMIZE else -gain) >= rule.min_improvement


def gather_facts(
    env: Environment,
    pr: PullRequestInfo,
    policy: Policy,
    head: ModelManifest,
    merge_requested: bool,
) -> MergeFacts:
    """Everything readiness needs, read from the forge for the current head."""
    reviews = env.forge.list_reviews(pr.number)
    checks = env.forge.get_checks(pr.head_sha)
    files = pr.files or ()
    base = read_manifest(env.forge, head.model, head.environment)
    return MergeFacts(
        head_sha=pr.head_sha,
        is_open=pr.state.value == "open" and not pr.merged,
        is_draft=pr.draft,
        policy_check=checks.is_passing(env.status_context),
        automerge_eligible=automerge_allowed(policy, head, base),
        reviews=tuple(
            ReviewFact(user=r.user, state=r.state, commit_id=r.commit_id) for r in reviews
        ),
        qualified_reviewers=qualified_reviewers(env, policy, {r.user for r in reviews}),
        bot_login=env.forge.bot_login,
        labels=pr.labels,
        required_checks={name: checks.is_passing(name) for name in policy.approval.required_checks},
        touches_policies_and_manifests=any(f.startswith("policies/") for f in files)
        and any(f.startswith("model-manifests/") for f in files),
        merge_requested=merge_requested,
    )


def head_manifest(
    env: Environment, pr: PullRequestInfo, environment: str, model: str
) -> ModelManifest:
    """The manifest as the pull request's head has it."""
    path = manifest_path(environment, model)
    text = env.forge.read_file(path, pr.head_sha)
    if text is None:
        raise UserInputError(f"{path} is missing on {pr.head_ref}")
    try:
        return load_manifest_text(text, path)
    except InvalidFile as exc:
        raise UserInputError(f"{path} on {pr.head_ref} is invalid:\n{exc}") from exc


def gate(
    env: Environment,
    number: int,
    now: dt.datetime,
    *,
    merge_requested: bool = False,
    pr: PullRequestInfo | None = None,
) -> GateResult:
    """Recompute readiness of promotion pull request `number`; merge when ready and allowed.

    `pr` is the pull request as the caller just read it, to save reading it again.
    """
    pr = pr if pr is not None else env.forge.get_pull_request(number)
    target = promotion_of(pr.head_ref)
    if target is None or pr.merged or pr.state.value != "open":
        return GateResult(None, None, f"#{number} is not an open promotion pull request")
    environment, model = target
    try:
        head = head_manifest(env, pr, environment, model)
        policy = read_policy(env.forge, model, environment)
    except UserInputError as exc:
        env.forge.set_commit_status(
            pr.head_sha,
            CommitState.FAILURE,
            str(exc).splitlines()[0][:140],
            context=env.status_context,
        )
        env.forge.upsert_comment(
            number,
            STATUS_MARKER,
            f"{STATUS_MARKER}\n**promobot cannot evaluate this pull request**\n\n```\n{exc}\n```\n",
        )
        return GateResult(None, None, str(exc))
    readiness = merge_readiness(gather_facts(env, pr, policy, head, merge_requested), policy, now)
    post_status(env, pr, readiness)
    if not readiness.merge:
        return GateResult(readiness, None, f"#{number}: {readiness.state.value}")
    return _merge(env, pr, head, readiness)


def post_status(env: Environment, pr: PullRequestInfo, readiness: Readiness) -> None:
    """The one status comment, edited in place."""
    body = render_template(
        "status_comment.md.j2",
        env.templates_root,
        readiness=readiness,
        head_sha=pr.head_sha,
        state_description=describe(readiness.state),
    )
    env.forge.upsert_comment(pr.number, STATUS_MARKER, f"{STATUS_MARKER}\n{body}")


def _merge(
    env: Environment, pr: PullRequestInfo, head: ModelManifest, readiness: Readiness
) -> GateResult:
    title = f"Promote {head.model} v{head.version} to {head.environment} (#{pr.number})"
    message = (
        f"Champion v{head.evaluation.champion_version or '-'} -> v{head.version}.\n\n"
        f"Merged by promobot: every rule of the policy passed on {pr.head_sha}."
    )
    try:
        merged = env.forge.merge(
            pr.number, expected_head_sha=pr.head_sha, title=title, message=message
        )
    except ForgeHeadMovedError:
        return GateResult(
            readiness, None, f"#{pr.number}: head moved; readiness is recomputed on the new head"
        )
    except ForgeNotMergeableError as exc:
        note = f"{MERGE_MARKER}\npromobot could not merge {pr.head_sha[:7]}: {exc.message}"
        env.forge.upsert_comment(pr.number, MERGE_MARKER, note)
        return GateResult(readiness, None, f"#{pr.number}: not mergeable: {exc.message}")
    log.info("merged #%s as %s", pr.number, merged.sha)
    return GateResult(readiness, merged.sha, f"merged #{pr.number} as {merged.sha[:7]}")
