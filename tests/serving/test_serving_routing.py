"""The pure parts: traffic schedules, share splits, and the canary step judgement."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.serving.api import VersionView
from bot.serving.routing import check_shares, schedule, split_traffic
from bot.targets.local import CanaryCheck, judge_step


@st.composite
def share_tables(draw: st.DrawFn) -> dict[str, int]:
    """Up to four versions whose shares add up to 100."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), max_size=3)))
    bounds = [0, *cuts, 100]
    return {str(i + 1): bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)}


@given(share_tables())
def test_schedule_gives_each_version_exactly_its_share(shares: dict[str, int]) -> None:
    """A 10% canary gets 10 of every 100 requests, not about 10."""
    slots = schedule(shares)
    assert len(slots) == 100
    assert {v: slots.count(v) for v in shares if shares[v]} == {
        v: s for v, s in shares.items() if s
    }


def test_schedule_spreads_a_small_share_out() -> None:
    """A canary's requests arrive spread over the cycle, not in one burst."""
    slots = schedule({"old": 90, "new": 10})
    positions = [i for i, v in enumerate(slots) if v == "new"]
    gaps = {b - a for a, b in itertools.pairwise(positions)}
    assert gaps == {10}


@given(share_tables(), st.integers(1, 100))
def test_split_traffic_keeps_whole_shares_that_add_up(previous: dict[str, int], step: int) -> None:
    """Every canary step is a valid table: whole percentages summing to 100."""
    split = split_traffic("new", step, previous)
    assert split["new"] == step
    assert sum(split.values()) == 100
    assert all(s >= 0 for s in split.values())


def test_split_traffic_keeps_the_proportions_of_previous_versions() -> None:
    """Two old versions at 75/25 keep that ratio while the canary grows."""
    assert split_traffic("3", 20, {"1": 75, "2": 25}) == {"1": 60, "2": 20, "3": 20}


@pytest.mark.parametrize(
    ("shares", "fragment"),
    [
        ({"1": 50, "9": 50}, "9 not loaded"),
        ({"1": 60, "2": 60}, "add up to 100, not 120"),
        ({"1": 120, "2": -20}, "between 0 and 100"),
    ],
)
def test_invalid_shares_are_explained(shares: dict[str, int], fragment: str) -> None:
    """The admin API refuses impossible tables with a reason."""
    assert fragment in (check_shares(shares, {"1", "2"}) or "")


def counters(requests: int, errors: int, p99: float | None = None) -> VersionView:
    """A version's counters as the server reports them."""
    return VersionView(
        version="2",
        uri="models:/churn/2",
        traffic=10,
        requests=requests,
        errors=errors,
        p99_latency_ms=p99,
        loaded_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize(
    ("before", "after", "check", "failed"),
    [
        (counters(0, 0), counters(100, 1), CanaryCheck(max_error_rate=0.01), False),
        (counters(0, 0), counters(100, 2), CanaryCheck(max_error_rate=0.01), True),
        (counters(50, 10), counters(150, 10), CanaryCheck(max_error_rate=0.0), False),
        (None, counters(3, 3), CanaryCheck(min_requests=5), False),
        (None, counters(10, 0, p99=80.0), CanaryCheck(max_p99_latency_ms=50), True),
    ],
)
def test_canary_step_is_judged_on_the_steps_own_requests(
    before: VersionView | None, after: VersionView, check: CanaryCheck, failed: bool
) -> None:
    """Errors before the step do not count against it; too little traffic is not a verdict."""
    problem, observed = judge_step(before, after, check)
    assert (problem is not None) == failed
    assert "request(s)" in observed
