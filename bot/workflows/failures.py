"""What the bot says when it cannot do what an event asks.

A user's mistake (a bad manifest or policy, a name git refuses, a refused permission)
is a `UserInputError`: it is reported once where people look — the pull request's
policy verdict and status comment, or the decision log for a registry event — and the
event is done. Anything else is unexpected: the event is retried, and when the last
attempt fails too, the pull request gets a short comment naming the delivery, so the
failure is seen rather than parked in silence.
"""

from __future__ import annotations

import logging

from bot.domain.layout import manifest_path, promotion_branch
from bot.errors import PromobotError, UserInputError
from bot.forge.base import PullRequestInfo
from bot.store.base import DecisionLog
from bot.webhooks.events import (
    CheckRunCompleted,
    CommentCreated,
    DomainEvent,
    ModelVersionCreated,
    PullRequestChanged,
    ReviewSubmitted,
)
from bot.workflows.gate import report_unreadable
from bot.workflows.services import Services

log = logging.getLogger(__name__)

REFUSED = "refused"
"""The decision recorded for a version the bot cannot propose."""


def pull_request_numbers(event: DomainEvent) -> tuple[int, ...]:
    """The pull requests an event is about, when it names them."""
    match event:
        case PullRequestChanged() | ReviewSubmitted() | CommentCreated():
            return (event.number,)
        case CheckRunCompleted():
            return event.pull_numbers
        case _:
            return ()


def open_promotion(services: Services, model: str, environment: str) -> PullRequestInfo | None:
    """The open promotion pull request of (model, environment), if any."""
    branch = promotion_branch(model, environment)
    found = services.forge.list_promotion_pull_requests()
    return next((pr for pr in found if pr.head_ref == branch), None)


def refuse_version(
    services: Services,
    decisions: DecisionLog | None,
    event: ModelVersionCreated,
    environment: str,
    reason: str,
    *,
    tell_pull_request: bool = True,
) -> None:
    """Record once that `event`'s version is refused for `environment`, and say why.

    With `tell_pull_request`, the open promotion pull request of the model gets the
    reason as a comment; a name git refuses has none, so the forge is not asked.
    """
    if decisions is not None:
        first = decisions.record(
            event.registry.value, event.model, event.version, environment, REFUSED, reason
        )
        if not first:
            return
    log.warning("%s v%s in %s refused: %s", event.model, event.version, environment, reason)
    if not tell_pull_request:
        return
    try:
        pr = open_promotion(services, event.model, environment)
    except (PromobotError, ValueError):
        return
    if pr is not None:
        marker = f"<!-- promobot:refused:{event.model}:{event.version}:{environment} -->"
        services.forge.upsert_comment(
            pr.number,
            marker,
            f"{marker}\npromobot cannot propose {event.model} v{event.version} for "
            f"{environment} ({manifest_path(event.model, environment)}):\n\n```\n{reason}\n```\n",
        )


def report_user_error(services: Services, event: DomainEvent, error: UserInputError) -> None:
    """A user's mistake on a pull request event: a failed verdict with the reason, once."""
    log.warning("%s: %s", event.kind, error)
    for number in pull_request_numbers(event):
        pr = services.forge.get_pull_request(number, with_files=False)
        if pr.state.value == "open" and not pr.merged:
            report_unreadable(services, pr, error)


def report_loop(services: Services, event: DomainEvent, count: int, seconds: float) -> None:
    """Events of one pull request came too fast: say so once on it."""
    for number in pull_request_numbers(event):
        marker = "<!-- promobot:loop -->"
        services.forge.upsert_comment(
            number,
            marker,
            f"{marker}\n**promobot stopped reacting to this pull request**: {count} events "
            f"arrived within {seconds:.0f} s, more than a person or CI causes. Its events are "
            "parked (`promobot events list --state parked`); push a new commit or comment "
            "`/promobot recheck` once the cause is fixed.",
        )


def report_bug(
    services: Services, event: DomainEvent, delivery_id: str, event_id: int, error: Exception
) -> None:
    """The last attempt failed: tell the pull request, naming the delivery and the event."""
    summary = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    for number in pull_request_numbers(event):
        marker = f"<!-- promobot:bug:{delivery_id} -->"
        services.forge.upsert_comment(
            number,
            marker,
            f"{marker}\n**promobot failed on this pull request and stopped retrying.** "
            f"Delivery `{delivery_id}` ({event.kind}) failed every attempt with "
            f"`{summary[:300]}`. This is a bug in promobot, not in this pull request: the "
            f"event is parked, and `promobot events replay {event_id}` runs it again once "
            "it is fixed.",
        )
