"""Where a promotion stands, derived from what the forge and git show; never stored.

An open promotion pull request is in one of five states, which readiness derives
from the rules it checks on the head (the status comment shows it). A merged one is
merged or rolled back, which history derives from the git log (`promobot history`
shows it). `STATES` says how each is derived; the README's table is generated from
it and a test keeps the two equal.
"""

from __future__ import annotations

import enum
from collections.abc import Set
from typing import assert_never


class State(enum.StrEnum):
    """Where a promotion stands."""

    PROPOSED = "proposed"
    REJECTED = "rejected"
    AWAITING_APPROVAL = "awaiting_approval"
    BLOCKED = "blocked"
    READY = "ready"
    MERGED = "merged"
    ROLLED_BACK = "rolled_back"


STATES: dict[State, str] = {
    State.PROPOSED: "open; the policy verdict has not run on the head yet",
    State.REJECTED: "open; the policy verdict on the head failed",
    State.AWAITING_APPROVAL: "open; approvals on the head from the policy's teams are missing",
    State.BLOCKED: "open and approved; a hold label, a deploy window or a check blocks it",
    State.READY: "open; every rule passes on the head",
    State.MERGED: "merged into the default branch, and no later commit reverts it",
    State.ROLLED_BACK: "merged, then reverted by a later commit on the default branch",
}
"""How each state is derived."""


def open_state(policy_check: bool | None, failed: Set[str]) -> State:
    """The state of an open promotion pull request from its failed readiness rules."""
    if not failed:
        return State.READY
    if policy_check is None:
        return State.PROPOSED
    if policy_check is False:
        return State.REJECTED
    if "approvals" in failed:
        return State.AWAITING_APPROVAL
    return State.BLOCKED


def merged_state(reverted: bool) -> State:
    """The state of a merged promotion."""
    return State.ROLLED_BACK if reverted else State.MERGED


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
        case State.MERGED:
            return "Merged; CD applies the manifest."
        case State.ROLLED_BACK:
            return "Reverted; the previous version serves again."
        case _:
            assert_never(state)


def states_table() -> str:
    """The README's table of states: name, how it is derived, what the bot says."""
    rows = ["| state | when | the bot says |", "|---|---|---|"]
    rows += [f"| `{state.value}` | {STATES[state]} | {describe(state)} |" for state in State]
    return "\n".join(rows) + "\n"
