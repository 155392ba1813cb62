"""The pure verdict: each rule, Holm, first deployments, and monotonicity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.comparison import Direction
from bot.domain.policy import Automerge, Correction, GuardrailRule, ThresholdRule
from bot.domain.verdict import Outcome, decide, holm_adjust, non_inferiority_p
from tests.factories import make_comparison, make_metric, make_policy


def test_better_significant_challenger_is_promoted() -> None:
    """The everyday case: a clearly better challenger passes every rule."""
    verdict = decide(make_comparison(), make_policy(min_absolute_change=0.01))
    assert verdict.verdict is Outcome.PROMOTE
    assert all(r.passed for r in verdict.rules)
    assert verdict.primary_improvement == pytest.approx(0.03)


@pytest.mark.parametrize(
    ("overrides", "metric", "failed_rule"),
    [
        ({"min_absolute_change": 0.05}, make_metric(), "primary-min-absolute-change"),
        ({"min_relative_change": 0.10}, make_metric(), "primary-min-relative-change"),
        ({"threshold": 0.9}, make_metric(), "primary-threshold"),
        ({}, make_metric(p_value=0.2), "primary-significance"),
        ({}, make_metric(challenger=0.79, p_value=0.001), "primary-significance"),
    ],
)
def test_each_primary_rule_can_reject(
    overrides: dict[str, float], metric, failed_rule: str
) -> None:  # type: ignore[no-untyped-def]
    """Every primary rule is enforced on its own and named when it fails."""
    verdict = decide(make_comparison(metric), make_policy(**overrides))
    assert verdict.verdict is Outcome.REJECT
    assert failed_rule in [r.name for r in verdict.failed]


def test_minimize_metric_improves_downwards() -> None:
    """log_loss gets better when it shrinks: a negative delta is an improvement."""
    metric = make_metric("log_loss", champion=0.40, challenger=0.35)
    verdict = decide(
        make_comparison(metric), make_policy(metric="log_loss", min_absolute_change=0.02)
    )
    assert verdict.verdict is Outcome.PROMOTE
    assert verdict.primary_improvement == pytest.approx(0.05)


def test_guardrail_margin() -> None:
    """A guardrail tolerates a loss up to its margin and no more."""
    guard = (GuardrailRule(metric="accuracy", max_regression=0.01),)
    small_loss = make_comparison(make_metric(), make_metric("accuracy", 0.90, 0.895))
    big_loss = make_comparison(make_metric(), make_metric("accuracy", 0.90, 0.88))
    assert decide(small_loss, make_policy(guardrails=guard)).verdict is Outcome.PROMOTE
    failed = decide(big_loss, make_policy(guardrails=guard)).failed
    assert [r.name for r in failed] == ["guardrail:accuracy"]


def test_first_deployment_applies_thresholds_only() -> None:
    """With no champion there is nothing to improve on; only absolute bounds count."""
    comparison = make_comparison(
        make_metric(champion=None, challenger=0.7), make_metric("roc_auc", None, 0.85)
    )
    ok = make_policy(
        min_absolute_change=0.5, thresholds=(ThresholdRule(metric="roc_auc", threshold=0.8),)
    )
    bad = make_policy(thresholds=(ThresholdRule(metric="roc_auc", threshold=0.9),))
    assert decide(comparison, ok).verdict is Outcome.PROMOTE
    assert decide(comparison, ok).first_deployment
    assert decide(comparison, bad).verdict is Outcome.REJECT


def test_missing_metric_fails_with_a_reason() -> None:
    """A policy naming a metric nobody measured must not pass silently."""
    verdict = decide(make_comparison(), make_policy(metric="recall"))
    assert verdict.verdict is Outcome.REJECT
    assert "recall" in verdict.failed[0].detail


def test_logged_metrics_only_skip_significance_and_say_so() -> None:
    """Without paired data there is no p-value; the rule says it was not tested."""
    metric = make_metric(ci_half_width=None, p_value=None)
    verdict = decide(make_comparison(metric, n=0), make_policy())
    rule = next(r for r in verdict.rules if r.name == "primary-significance")
    assert rule.passed
    assert "not tested" in rule.detail


def test_holm_adjustment_matches_textbook() -> None:
    """Holm: sorted p-values times (m - i), made monotone."""
    adjusted = holm_adjust({"a": 0.01, "b": 0.04, "c": 0.03}, Correction.HOLM)
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
    assert holm_adjust({"a": 0.01}, Correction.NONE) == {"a": 0.01}


def test_holm_can_turn_a_marginal_primary_into_reject() -> None:
    """Testing guardrails too costs power: the correction is really applied."""
    guard = (GuardrailRule(metric="accuracy", max_regression=0.001, significance=0.05),)
    comparison = make_comparison(
        make_metric(p_value=0.04), make_metric("accuracy", 0.90, 0.90, ci_half_width=0.01)
    )
    assert decide(comparison, make_policy()).verdict is Outcome.PROMOTE
    assert decide(comparison, make_policy(guardrails=guard)).verdict is Outcome.REJECT


def test_non_inferiority_p_from_interval() -> None:
    """A loss well inside the margin with a tight interval is shown non-inferior."""
    tight = make_metric("accuracy", 0.90, 0.899, ci_half_width=0.002)
    assert non_inferiority_p(tight, 0.01, Direction.MAXIMIZE) < 1e-6
    wide = make_metric("accuracy", 0.90, 0.899, ci_half_width=0.05)
    assert non_inferiority_p(wide, 0.01, Direction.MAXIMIZE) > 0.3


def test_automerge_needs_the_configured_improvement() -> None:
    """Automerge is a stronger bar than promotion."""
    policy = make_policy(automerge=Automerge(enabled=True, min_improvement=0.05))
    assert not decide(make_comparison(), policy).automerge_eligible
    big = make_comparison(make_metric(challenger=0.9))
    assert decide(big, policy).automerge_eligible


@given(
    champion=st.floats(0.05, 0.9),
    challenger=st.floats(0.05, 0.9),
    gain=st.floats(0.001, 0.09),
    p=st.floats(0.0, 1.0),
    p_drop=st.floats(0.0, 1.0),
)
def test_strictly_better_challenger_never_turns_promote_into_reject(
    champion: float, challenger: float, gain: float, p: float, p_drop: float
) -> None:
    """Monotonicity: a higher value with a smaller p-value cannot lose a promotion."""
    policy = make_policy(
        min_absolute_change=0.01, thresholds=(ThresholdRule(metric="f1", threshold=0.3),)
    )
    before = decide(
        make_comparison(make_metric(champion=champion, challenger=challenger, p_value=p)), policy
    )
    after = decide(
        make_comparison(
            make_metric(champion=champion, challenger=challenger + gain, p_value=p * p_drop)
        ),
        policy,
    )
    if before.verdict is Outcome.PROMOTE:
        assert after.verdict is Outcome.PROMOTE
