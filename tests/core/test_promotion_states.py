"""The promotion state machine, its README diagram, deploy windows and comment parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.commands import Command, parse_command
from bot.domain.policy import DeployWindow
from bot.domain.promotion import (
    TRANSITIONS,
    Event,
    InvalidTransition,
    State,
    describe,
    mermaid,
    next_state,
)
from bot.domain.windows import is_open, next_opening
from tests.conftest import PROJECT_ROOT


def test_readme_diagram_is_the_code() -> None:
    """The README draws the state machine; it must be the one the code runs."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "```mermaid\n" + mermaid() + "```" in readme, (
        "README's state diagram is stale: paste the output of "
        "`python -c 'from bot.domain.promotion import mermaid; print(mermaid())'`"
    )


def test_every_state_is_reachable_and_described() -> None:
    """No dead states: each one is entered by some transition (or is the start)."""
    targets = set(TRANSITIONS.values()) | {State.PROPOSED}
    assert targets == set(State)
    assert all(describe(state) for state in State)


def test_invalid_transition_is_refused() -> None:
    """A merged promotion cannot be approved again."""
    assert next_state(State.READY, Event.MERGE) is State.MERGED
    with pytest.raises(InvalidTransition):
        next_state(State.MERGED, Event.APPROVED)


ROME_NIGHTS = DeployWindow.model_validate("Mon-Fri 22:00-06:00 Europe/Rome")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2026, 12, 1, 21, 30, tzinfo=dt.UTC), True),  # Tue 22:30 in Rome
        (dt.datetime(2026, 12, 2, 4, 59, tzinfo=dt.UTC), True),  # Wed 05:59 in Rome, past midnight
        (dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC), False),  # Wed 13:00 in Rome
        (dt.datetime(2026, 12, 5, 22, 0, tzinfo=dt.UTC), False),  # Sat 23:00 in Rome
    ],
)
def test_deploy_window_across_midnight_and_time_zones(when: dt.datetime, expected: bool) -> None:
    """Windows are local times in their zone and may span midnight."""
    assert is_open([ROME_NIGHTS], when) is expected


def test_next_opening_says_when_to_look_again() -> None:
    """Outside every window the decision names the next opening, in UTC."""
    wednesday_noon = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    assert next_opening([ROME_NIGHTS], wednesday_noon) == dt.datetime(
        2026, 12, 2, 21, 0, tzinfo=dt.UTC
    )
    assert is_open([], wednesday_noon)
    assert next_opening([], wednesday_noon) is None


@pytest.mark.parametrize(
    ("body", "command", "word"),
    [
        ("/promobot merge", Command.MERGE, "merge"),
        ("Thanks!\n  /promobot   HOLD  \n", Command.HOLD, "hold"),
        ("/promobot deploy-now", None, "deploy-now"),
        ("/promobot", None, ""),
    ],
)
def test_command_parsing(body: str, command: Command | None, word: str) -> None:
    """Commands stand on their own line, in any case; unknown words are kept for the reply."""
    parsed = parse_command(body)
    assert parsed is not None
    assert parsed.command is command
    assert parsed.word == word


def test_mentions_are_not_commands() -> None:
    """Prose that mentions the bot is not an order."""
    assert parse_command("please ask /promobot merge later") is None
    assert parse_command("no command here") is None
