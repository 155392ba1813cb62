"""`/promobot …` comments on pull requests.

The pull request and its inputs (manifests, policy) are read once per command, then
the command is authorised and carried out. Every answer to a command carries a
marker naming the command's comment: running the command again (a redelivery, or a
retry after a crash) edits that answer instead of writing a second one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.commands import Command, Parsed, parse_command, usage
from bot.domain.layout import promotion_of
from bot.domain.record import SkippedSoak
from bot.errors import UserInputError
from bot.forge.base import (
    ForgePermissionError,
    ForgeTeamNotFoundError,
    Permission,
    PullRequestInfo,
)
from bot.report.render import render_template
from bot.workflows.gate import (
    GateResult,
    PromotionInputs,
    gate,
    read_inputs,
    report_unreadable,
)
from bot.workflows.inputs import read_policy
from bot.workflows.propose import ProposeResult
from bot.workflows.recheck import recheck
from bot.workflows.services import Services

ROLLBACK_LABEL = "rollback"

Advance = Callable[[str, str, SkippedSoak], list[ProposeResult]]
"""Proposes (model, environment)'s version for the next stage, its soak skipped."""


@dataclass(frozen=True)
class CommandResult:
    """What a command did, for logs and tests."""

    command: str
    detail: str


@dataclass(frozen=True)
class _Context:
    """One command's pull request, its inputs (None when not an open promotion) and reply."""

    services: Services
    pr: PullRequestInfo
    inputs: PromotionInputs | None
    unreadable: UserInputError | None
    teams: tuple[str, ...]
    reply: _Reply
    user: str
    now: dt.datetime
    advance: Advance | None = None


def _read(
    services: Services, pr: PullRequestInfo
) -> tuple[PromotionInputs | None, UserInputError | None, tuple[str, ...]]:
    """The inputs of an open promotion, or why they cannot be read; the policy's teams."""
    target = promotion_of(pr.head_ref)
    if target is None:
        return None, None, ()
    try:
        if pr.merged or pr.state.value != "open":
            policy = read_policy(services.forge, target.model, target.environment)
            return None, None, policy.approval.teams
        inputs = read_inputs(services, pr)
    except UserInputError as error:
        return None, error, ()
    return inputs, None, () if inputs is None else inputs.policy.approval.teams


def _authorised(context: _Context) -> tuple[bool, str]:
    """Whether the commenter may command the bot; when not, what the refusal should add."""
    services, user = context.services, context.user
    if user.lower() == services.forge.bot_login.lower():
        return False, ""
    if services.forge.collaborator_permission(user).can_write:
        return True, ""
    owner, unreadable = services.forge_owner(), []
    for team in context.teams:
        try:
            if services.forge.is_team_member(owner, team, user):
                return True, ""
        except (ForgePermissionError, ForgeTeamNotFoundError) as error:
            unreadable.append(f" (team {team} cannot be read: {error})")
    return False, "".join(unreadable)


def handle_comment(
    services: Services,
    number: int,
    user: str,
    body: str,
    now: dt.datetime,
    *,
    comment_id: int,
    advance: Advance | None = None,
) -> CommandResult | None:
    """Run the command in comment `comment_id`; None when the comment holds none.

    `advance` proposes a version for the next stage of its path (`/promobot promote`).
    """
    parsed = parse_command(body)
    if parsed is None or user.lower() == services.forge.bot_login.lower():
        return None
    pr = services.forge.get_pull_request(number)
    inputs, unreadable, teams = _read(services, pr)
    reply = _Reply(services, number, comment_id)
    context = _Context(services, pr, inputs, unreadable, teams, reply, user, now, advance)
    allowed, why_not = _authorised(context)
    if not allowed:
        reply(
            f"@{user} only people with write access or in the policy's teams can command "
            f"promobot.{why_not}"
        )
        return CommandResult(parsed.word, "refused: not authorised")
    if parsed.command is None:
        reply(f"@{user} unknown command `{parsed.word or '(none)'}`; {usage()}")
        return CommandResult(parsed.word, "unknown command")
    return _run(context, parsed)


@dataclass(frozen=True)
class _Reply:
    """Answers one command's comment, at most once."""

    services: Services
    number: int
    comment_id: int

    def __call__(self, text: str) -> None:
        marker = f"<!-- promobot:reply-to:{self.comment_id} -->"
        self.services.forge.upsert_comment(self.number, marker, text)


def _run(context: _Context, parsed: Parsed) -> CommandResult:
    command = parsed.command
    assert command is not None
    if command is Command.ROLLBACK:
        return _rollback(context)
    if command is Command.PROMOTE:
        return _promote(context, parsed.rest)
    if context.unreadable is not None:
        report_unreadable(context.services, context.pr, context.unreadable)
        context.reply(
            f"promobot cannot evaluate this pull request:\n\n```\n{context.unreadable}\n```"
        )
        return CommandResult(command.value, "refused: unreadable inputs")
    if context.inputs is None:
        context.reply(
            f"@{context.user} `/promobot {command.value}` works on an open promotion pull request."
        )
        return CommandResult(command.value, "refused: not an open promotion")
    inputs = context.inputs
    if command in (Command.HOLD, Command.UNHOLD):
        return _hold(context, inputs, hold=command is Command.HOLD)
    if command is Command.RECHECK:
        recheck(context.services, inputs.pr)
    result = gate(
        context.services,
        inputs.pr.number,
        context.now,
        merge_requested=command is Command.MERGE,
        inputs=inputs,
    )
    if command is Command.EXPLAIN:
        context.reply(_explain(context.services, result))
    return CommandResult(command.value, result.detail)


def _hold(context: _Context, inputs: PromotionInputs, *, hold: bool) -> CommandResult:
    forge, pr = context.services.forge, inputs.pr
    label = inputs.policy.approval.hold_label
    if hold:
        forge.add_labels(pr.number, [label])
        labels = (*pr.labels, label) if label not in pr.labels else pr.labels
    else:
        forge.remove_label(pr.number, label)
        labels = tuple(name for name in pr.labels if name != label)
    held = dataclasses.replace(inputs, pr=pr.model_copy(update={"labels": labels}))
    result = gate(context.services, pr.number, context.now, inputs=held)
    command = Command.HOLD if hold else Command.UNHOLD
    return CommandResult(command.value, f"held by {context.user}" if hold else result.detail)


def _explain(services: Services, result: GateResult) -> str:
    return render_template(
        "explain_comment.md.j2",
        services.templates_root,
        readiness=result.readiness,
        detail=result.detail,
    )


SKIP_SOAK = "--skip-soak"
REASON_LIMIT = 300


def _promote(context: _Context, rest: str) -> CommandResult:
    """`/promobot promote --skip-soak REASON` on a merged promotion: the version goes on to
    the next stage before its soak is over (never without its verification), on a policy
    owner's word, which the next pull request and its decision record keep."""
    pr, user, command = context.pr, context.user, Command.PROMOTE.value
    target = promotion_of(pr.head_ref)
    reason = rest[len(SKIP_SOAK) :].strip() if rest.startswith(SKIP_SOAK) else ""
    # The reason goes into a pull request body and a record: one line, no HTML comments
    # that could pass for the bot's markers.
    reason = reason.replace("<!--", "").replace("-->", "")[:REASON_LIMIT].strip()
    if not pr.merged or target is None or not reason or context.advance is None:
        context.reply(
            f"@{user} `/promobot promote --skip-soak REASON` works on a merged promotion pull "
            "request of a stage with a next one, with the reason on the same line."
        )
        return CommandResult(command, "refused: not a merged stage promotion")
    policy = read_policy(context.services.forge, target.model, target.environment)
    if not _owns(context, policy.approval.owners):
        owners = ", ".join(policy.approval.owners) or "repository admins"
        context.reply(f"@{user} only the policy's owners ({owners}) may skip a soak.")
        return CommandResult(command, "refused: not a policy owner")
    results = context.advance(target.model, target.environment, SkippedSoak(by=user, reason=reason))
    if not results:
        context.reply(
            f"@{user} {target.model} is not ready for the next stage: it must serve in "
            f"{target.environment} and pass its verification there (`promobot status "
            f"{target.model}` says what it waits for)."
        )
        return CommandResult(command, "not ready")
    opened = results[0].pull_request
    where = f" in #{opened.number}" if opened is not None else ""
    context.reply(f"Proposed for the next stage{where}, soak skipped by @{user}: {reason}")
    return CommandResult(command, f"skipped soak: {results[0].detail}")


def _owns(context: _Context, owners: tuple[str, ...]) -> bool:
    forge, user = context.services.forge, context.user
    if not owners:
        return forge.collaborator_permission(user) is Permission.ADMIN
    org = context.services.forge_owner()
    try:
        return any(forge.is_team_member(org, team, user) for team in owners)
    except (ForgePermissionError, ForgeTeamNotFoundError):
        return False


def _rollback(context: _Context) -> CommandResult:
    pr, user = context.pr, context.user
    if not pr.merged or promotion_of(pr.head_ref) is None:
        context.reply(f"@{user} `/promobot rollback` works on a merged promotion pull request.")
        return CommandResult(Command.ROLLBACK.value, "refused: not a merged promotion")
    body = (
        f"Rolls back #{pr.number} at the request of @{user}. "
        "Merging it makes CD serve the previous version again."
    )
    result = context.services.forge.open_revert(pr.number, labels=(ROLLBACK_LABEL,), body=body)
    context.reply(f"Rollback proposed in #{result.pull_request.number}.")
    return CommandResult(
        Command.ROLLBACK.value, f"revert pull request #{result.pull_request.number}"
    )
