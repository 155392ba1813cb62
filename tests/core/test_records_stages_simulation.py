"""Decision records, promotion stages and policy simulation: the pure parts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.policy import Stage, VerifySection
from bot.domain.record import (
    DecisionRecord,
    dump_record,
    is_record_path,
    make_record,
    policy_digest,
    record_path,
)
from bot.domain.simulation import replay, simulate
from bot.domain.stages import entry_environments, may_advance, next_stage
from bot.domain.verdict import Outcome, decide
from bot.domain.verification import HealthSample
from tests.factories import make_comparison, make_metric, make_policy

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PATH = (
    Stage(environment="staging", soak_minutes=1440, verify=True),
    Stage(environment="production"),
)


def _record(gain: float, p_value: float = 0.001, when: dt.datetime = NOW) -> DecisionRecord:
    comparison = make_comparison(make_metric(challenger=0.80 + gain, p_value=p_value))
    policy = make_policy(min_absolute_change=0.01)
    return make_record(
        model="churn",
        environment="production",
        version=str(int(gain * 1000)),
        champion_version="1",
        comparison=comparison,
        policy=policy,
        verdict=decide(comparison, policy),
        decided_at=when,
        promobot_version="test",
    )


def test_a_record_round_trips_through_its_committed_json() -> None:
    """What git holds must read back as the same record."""
    record = _record(0.03)
    text = dump_record(record)
    assert text.endswith("}\n")
    again = DecisionRecord.model_validate(json.loads(text))
    assert again == record
    assert record.path() == "model-manifests/production/churn.decision.json"
    assert is_record_path(record_path("churn", "staging"))
    assert not is_record_path("model-manifests/production/churn.yaml")


def test_the_policy_hash_changes_with_any_rule() -> None:
    assert policy_digest(make_policy()) == policy_digest(make_policy())
    assert policy_digest(make_policy()) != policy_digest(make_policy(min_absolute_change=0.02))


def test_replaying_under_the_same_policy_changes_nothing() -> None:
    record = _record(0.03)
    again = replay(record, record.policy.resolved)
    assert not again.changed
    assert again.flipped_rules == ()


def test_a_stricter_policy_flips_a_small_gain_and_names_the_rule() -> None:
    """The reviewer of a policy change sees which decisions it would have changed, and why."""
    small, large = _record(0.015, when=NOW), _record(0.05, when=NOW + dt.timedelta(hours=1))
    stricter = make_policy(min_absolute_change=0.02)
    result = simulate([large, small], lambda _record: stricter)
    assert [r.version for r in result.replays] == [small.version, large.version]
    assert [r.changed for r in result.replays] == [True, False]
    flipped = result.changed[0]
    assert (flipped.old, flipped.new) == (Outcome.PROMOTE, Outcome.REJECT)
    assert flipped.flipped_rules == ("primary-min-absolute-change",)
    assert result.summary().startswith("1 of 2 decisions would change: v15")


def test_records_the_new_policy_does_not_govern_are_left_out() -> None:
    result = simulate([_record(0.03)], lambda _record: None)
    assert result.replays == ()
    assert result.summary() == "0 of 0 decisions would change"


@settings(max_examples=60, derandomize=True)
@given(gain=st.floats(-0.05, 0.1), bar=st.floats(0.0, 0.05))
def test_a_replay_is_exactly_what_decide_says(gain: float, bar: float) -> None:
    """Simulation runs the bot's own `decide()`: no second implementation to drift."""
    record = _record(gain)
    policy = make_policy(min_absolute_change=bar)
    assert replay(record, policy).new is decide(record.comparison, policy).verdict


def test_new_versions_enter_at_the_first_stage() -> None:
    assert entry_environments(PATH, ["production"]) == ("staging",)
    assert entry_environments((), ["production", "staging"]) == ("production", "staging")
    assert next_stage(PATH, "staging") == PATH[1]
    assert next_stage(PATH, "production") is None
    assert next_stage(PATH, "qa") is None


def _health(requests: int, errors: int, p99: float | None = 80.0) -> list[HealthSample]:
    return [HealthSample(version="7", requests=requests, errors=errors, p99_latency_ms=p99)]


def test_a_version_soaks_before_it_goes_on() -> None:
    since = NOW - dt.timedelta(hours=23)
    decision = may_advance(PATH[0], VerifySection(), since, _health(500, 0), NOW)
    assert not decision.ready
    assert decision.next_look == since + dt.timedelta(minutes=1440)
    assert "soaking in staging" in decision.reason


@pytest.mark.parametrize(
    ("health", "ready", "words"),
    [
        (_health(500, 0), True, "within"),
        (_health(500, 50), False, "error rate"),
        (_health(0, 0), False, "no traffic"),
        ([], False, "no traffic"),
    ],
)
def test_after_the_soak_verification_decides(
    health: list[HealthSample], ready: bool, words: str
) -> None:
    since = NOW - dt.timedelta(days=2)
    decision = may_advance(PATH[0], VerifySection(max_error_rate=0.01), since, health, NOW)
    assert decision.ready is ready
    assert words in decision.reason


def test_a_skipped_soak_still_needs_verification() -> None:
    """A hotfix may skip the wait, not the evidence."""
    since = NOW - dt.timedelta(minutes=5)
    assert may_advance(PATH[0], VerifySection(), since, _health(40, 0), NOW, skip_soak=True).ready
    failing = may_advance(PATH[0], VerifySection(), since, _health(40, 20), NOW, skip_soak=True)
    assert not failing.ready


def test_a_stage_without_verify_goes_on_after_its_soak() -> None:
    stage = Stage(environment="staging", soak_minutes=60)
    since = NOW - dt.timedelta(minutes=61)
    assert may_advance(stage, VerifySection(), since, [], NOW).ready
