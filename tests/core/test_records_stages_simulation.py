"""Decision records, promotion stages and policy simulation: the pure parts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.policy import PolicyFile, Stage, VerifySection
from bot.domain.record import (
    DecisionRecord,
    dump_record,
    is_record_path,
    make_record,
    policy_digest,
    record_path,
)
from bot.domain.resolution import SourcedPolicy
from bot.domain.simulation import latest_decisions, replay, simulate, simulate_change
from bot.domain.stages import Serving, entry_for, may_advance, next_stage, path_views
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
    assert entry_for(PATH, "production") == "staging"
    assert entry_for(PATH, "staging") == "staging"
    assert entry_for(PATH, "qa") == "qa", "off the path: proposed where it was meant"
    assert entry_for((), "production") == "production"
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


def test_each_stage_says_what_serves_and_what_it_waits_for() -> None:
    since = NOW - dt.timedelta(hours=2)
    views = path_views(
        PATH,
        {"staging": Serving(version="7", since=since, pull_request=12)},
        {"production": (13, "6")},
        NOW,
    )
    staging, production = views
    assert (staging.version, staging.served_since, staging.pull_request) == ("7", since, 12)
    assert staging.waiting == "its soak, until 2026-12-02 10:00 UTC, before production"
    assert (production.version, production.waiting, production.proposed) == (
        None,
        "nothing serves yet",
        (13, "6"),
    )
    [later, _] = path_views(
        PATH, {"staging": Serving(version="7", since=since)}, {}, NOW + dt.timedelta(days=1)
    )
    assert later.waiting == "its verification, then a proposal for production"
    [unknown, _] = path_views(PATH, {"staging": Serving(version="7")}, {}, NOW)
    assert unknown.waiting.startswith("its promotion to be merged")
    both = {"staging": Serving(version="7", since=since), "production": Serving(version="7")}
    [through, last] = path_views(PATH, both, {}, NOW)
    assert through.waiting == "nothing: it serves in production too"
    assert last.waiting == "the end of the path"


def _file(name: str, models: str, min_change: float) -> SourcedPolicy:
    policy = PolicyFile.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "PromotionPolicy",
            "name": name,
            "applies_to": {"models": [models], "environments": ["*"]},
            "compare": {"primary": {"metric": "f1", "min_absolute_change": min_change}},
            "approval": {"required_approvals": 1},
        }
    )
    return SourcedPolicy(f"policies/{name}.yaml", policy)


def test_a_change_replays_only_the_last_decisions_of_the_models_it_governs() -> None:
    records = [_record(0.005 * i, when=NOW + dt.timedelta(minutes=i)) for i in range(1, 7)]
    other = _record(0.02).model_copy(update={"model": "fraud"})
    old = [_file("churn", "churn*", 0.001), _file("fraud", "fraud*", 0.001)]
    new = [_file("churn", "churn*", 0.02), old[1]]
    result = simulate_change([*records, other], old, new, ["policies/churn.yaml"], last=4)
    assert [r.version for r in result.replays] == ["15", "20", "25", "30"]
    assert [r.version for r in result.changed] == ["15"]
    assert result.summary().startswith("1 of 4 decisions would change: v15 (churn, production)")
    assert simulate_change(records, old, new, ["policies/churn.yaml"], last=0).replays == ()


def test_the_latest_decision_about_a_version_is_the_one_replayed() -> None:
    first = _record(0.03, when=NOW)
    again = first.model_copy(update={"decided_at": NOW + dt.timedelta(hours=1)})
    assert latest_decisions([again, first]) == [again]
