"""`/promobot …` comments on pull requests.

Every answer to a command carries a marker naming the command's comment: running the
command again (a redelivery, or a retry after a crash) edits that answer instead of
writing a second one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.domain.commands import Command, Parsed, parse_command, usage
from bot.errors import UserInputError
from bot.forge.base import PullRequestInfo, promotion_of
from bot.workflows.gate import GateResult, gate
from bot.workflows.inputs import Environment, read_policy
from bot.workflows.recheck import recheck

ROLLBACK_LABEL = "rollback"


@dataclass(frozen=True)
class CommandResult:
    """What a command did, for logs and tests."""

    command: str
    detail: str


def _authorised(env: Environment, pr: PullRequestInfo, user: str) -> bool:
    if user.lower() == env.forge.bot_login.lower():
        return False
    if env.forge.collaborator_permission(user).can_write:
        return True
    target = promotion_of(pr.head_ref)
    if target is None:
        return False
    try:
        teams = read_policy(env.forge, target[1], target[0]).approval.teams
    except UserInputError:
        return False
    return any(env.forge.is_team_member(env.forge_owner(), t, user) for t in teams)


def handle_comment(
    env: Environment, number: int, user: str, body: str, now: dt.datetime, *, comment_id: int
) -> CommandResult | None:
    """Run the command in comment `comment_id`; None when the comment holds none."""
    parsed = parse_command(body)
    if parsed is None or user.lower() == env.forge.bot_login.lower():
        return None
    pr = env.forge.get_pull_request(number)
    reply = _Reply(env, number, comment_id)
    if not _authorised(env, pr, user):
        reply(
            f"@{user} only people with write access or in the policy's teams can command promobot."
        )
        return CommandResult(parsed.word, "refused: not authorised")
    if parsed.command is None:
        reply(f"@{user} unknown command `{parsed.word or '(none)'}`; {usage()}")
        return CommandResult(parsed.word, "unknown command")
    return _run(env, pr, parsed, user, now, reply)


@dataclass(frozen=True)
class _Reply:
    """Answers one command's comment, at most once."""

    env: Environment
    number: int
    comment_id: int

    def __call__(self, text: str) -> None:
        marker = f"<!-- promobot:reply-to:{self.comment_id} -->"
        self.env.forge.upsert_comment(self.number, marker, text)


def _run(
    env: Environment,
    pr: PullRequestInfo,
    parsed: Parsed,
    user: str,
    now: dt.datetime,
    reply: _Reply,
) -> CommandResult:
    command = parsed.command
    assert command is not None
    hold = _hold_label(env, pr)
    if command is Command.HOLD:
        env.forge.add_labels(pr.number, [hold])
        gate(env, pr.number, now)
        return CommandResult(command.value, f"held by {user}")
    if command is Command.UNHOLD:
        env.forge.remove_label(pr.number, hold)
        return CommandResult(command.value, _summary(gate(env, pr.number, now)))
    if command is Command.ROLLBACK:
        return _rollback(env, pr, user, reply)
    if command is Command.EXPLAIN:
        result = gate(env, pr.number, now)
        reply(_explain(result))
        return CommandResult(command.value, "explained")
    if command is Command.RECHECK and promotion_of(pr.head_ref) is not None and not pr.merged:
        recheck(env, pr)
    result = gate(env, pr.number, now, merge_requested=command is Command.MERGE)
    return CommandResult(command.value, _summary(result))


def _hold_label(env: Environment, pr: PullRequestInfo) -> str:
    target = promotion_of(pr.head_ref)
    if target is None:
        return "promobot:hold"
    try:
        return read_policy(env.forge, target[1], target[0]).approval.hold_label
    except UserInputError:
        return "promobot:hold"


def _summary(result: GateResult) -> str:
    return result.detail


def _explain(result: GateResult) -> str:
    if result.readiness is None:
        return f"promobot: {result.detail}"
    lines = [
        "**Why this pull request is " + ("ready" if result.readiness.ready else "blocked") + "**",
        "",
    ]
    lines += [
        f"- {'✅' if r.passed else '❌'} **{r.name}**: {r.detail}" for r in result.readiness.rules
    ]
    if result.readiness.next_evaluation_at is not None:
        lines += ["", f"Next look: {result.readiness.next_evaluation_at:%Y-%m-%d %H:%M} UTC"]
    return "\n".join(lines)


def _rollback(env: Environment, pr: PullRequestInfo, user: str, reply: _Reply) -> CommandResult:
    if not pr.merged or promotion_of(pr.head_ref) is None:
        reply(f"@{user} `/promobot rollback` works on a merged promotion pull request.")
        return CommandResult(Command.ROLLBACK.value, "refused: not a merged promotion")
    body = (
        f"Rolls back #{pr.number} at the request of @{user}. "
        "Merging it makes CD serve the previous version again."
    )
    result = env.forge.open_revert(pr.number, labels=(ROLLBACK_LABEL,), body=body)
    reply(f"Rollback proposed in #{result.pull_request.number}.")
    return CommandResult(
        Command.ROLLBACK.value, f"revert pull request #{result.pull_request.number}"
    )
