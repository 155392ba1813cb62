"""Promotion states (derived, and the README's table of them), deploy windows, comment parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.commands import Command, parse_command
from bot.domain.policy import DeployWindow
from bot.domain.promotion import STATES, State, describe, merged_state, open_state, states_table
from bot.domain.windows import is_open, next_opening
from tests.conftest import PROJECT_ROOT


def test_readme_table_of_states_is_the_code() -> None:
    """The README lists the states; it must list the ones the code derives, as it derives them."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert states_table() in readme, (
        "README's table of states is stale: paste the output of "
        "`python -c 'from bot.domain.promotion import states_table; print(states_table())'`"
    )


def test_every_state_is_derived_and_described() -> None:
    """No state the code cannot reach: each is what `open_state` or `merged_state` returns."""
    derived = {
        open_state(None, {"policy-verdict"}),
        open_state(False, {"policy-verdict"}),
        open_state(True, {"approvals"}),
        open_state(True, {"no-hold"}),
        open_state(True, set()),
        merged_state(reverted=False),
        merged_state(reverted=True),
    }
    assert derived == set(State)
    assert set(STATES) == set(State)
    assert all(describe(state) for state in State)


@pytest.mark.parametrize(
    ("policy_check", "failed", "state"),
    [
        (None, {"policy-verdict", "approvals"}, State.PROPOSED),
        (False, {"policy-verdict", "approvals"}, State.REJECTED),
        (True, {"approvals", "deploy-window"}, State.AWAITING_APPROVAL),
        (True, {"deploy-window"}, State.BLOCKED),
        (True, set(), State.READY),
    ],
)
def test_an_open_pull_requests_state_follows_its_failed_rules(
    policy_check: bool | None, failed: set[str], state: State
) -> None:
    """The verdict decides first, then approvals, then anything else blocks."""
    assert open_state(policy_check, failed) is state


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
