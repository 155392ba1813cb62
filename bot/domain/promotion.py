"""The life of one promotion: states, the events that move it, and the diagram in the README.

The README's Mermaid diagram is generated from `TRANSITIONS` (`promobot states`)
and a test keeps the two equal, so the picture never drifts from the code.
"""

from __future__ import annotations

import enum
from typing import assert_never


class State(enum.StrEnum):
    """Where a promotion stands."""

    PROPOSED = "proposed"
    REJECTED = "rejected"
    AWAITING_APPROVAL = "awaiting_approval"
    BLOCKED = "blocked"
    READY = "ready"
    SUPERSEDED = "superseded"
    MERGED = "merged"
    SERVING = "serving"
    ROLLED_BACK = "rolled_back"


class Event(enum.StrEnum):
    """What moves a promotion."""

    EVALUATED_PROMOTE = "verdict promote"
    EVALUATED_REJECT = "verdict reject"
    APPROVED = "approved on head"
    BLOCKER = "hold / outside window / failing check"
    NEW_PUSH = "push to the branch"
    UNBLOCKED = "blocker cleared"
    NEWER_VERSION = "newer challenger"
    MERGE = "merge (auto or /promobot merge)"
    APPLIED = "CD applied"
    APPLY_FAILED = "CD failed"
    REVERTED = "git revert / verify failed"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.PROPOSED, Event.EVALUATED_PROMOTE): State.AWAITING_APPROVAL,
    (State.PROPOSED, Event.EVALUATED_REJECT): State.REJECTED,
    (State.AWAITING_APPROVAL, Event.APPROVED): State.READY,
    (State.AWAITING_APPROVAL, Event.NEWER_VERSION): State.SUPERSEDED,
    (State.READY, Event.BLOCKER): State.BLOCKED,
    (State.READY, Event.MERGE): State.MERGED,
    (State.READY, Event.NEWER_VERSION): State.SUPERSEDED,
    (State.READY, Event.NEW_PUSH): State.AWAITING_APPROVAL,
    (State.BLOCKED, Event.UNBLOCKED): State.READY,
    (State.BLOCKED, Event.NEW_PUSH): State.AWAITING_APPROVAL,
    (State.BLOCKED, Event.NEWER_VERSION): State.SUPERSEDED,
    (State.REJECTED, Event.NEWER_VERSION): State.SUPERSEDED,
    (State.MERGED, Event.APPLIED): State.SERVING,
    (State.MERGED, Event.APPLY_FAILED): State.MERGED,
    (State.SERVING, Event.REVERTED): State.ROLLED_BACK,
}

TERMINAL = frozenset({State.SUPERSEDED, State.ROLLED_BACK})


class InvalidTransition(ValueError):
    """The event cannot happen in this state."""


def next_state(state: State, event: Event) -> State:
    """The state after `event`, or `InvalidTransition`."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value!r} cannot happen while {state.value}") from None


def describe(state: State) -> str:
    """One sentence for a status comment."""
    match state:
        case State.PROPOSED:
            return "The challenger is being evaluated."
        case State.REJECTED:
            return "The challenger failed the policy; the pull request follows `on_rejected`."
        case State.AWAITING_APPROVAL:
            return "The challenger passed; waiting for approvals from the policy's teams."
        case State.BLOCKED:
            return "Approved, but something blocks the merge (hold, deploy window, checks)."
        case State.READY:
            return "Ready to merge."
        case State.SUPERSEDED:
            return "A newer challenger replaced this one."
        case State.MERGED:
            return "Merged; CD applies the manifest."
        case State.SERVING:
            return "The version serves."
        case State.ROLLED_BACK:
            return "Reverted; the previous version serves again."
        case _:
            assert_never(state)


def mermaid() -> str:
    """The state diagram as Mermaid, as the README shows it."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.PROPOSED.value}"]
    for (source, event), target in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {target.value}: {event.value}")
    lines.extend(f"    {state.value} --> [*]" for state in sorted(TERMINAL))
    return "\n".join(lines) + "\n"
