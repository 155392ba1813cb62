"""Should the challenger replace the champion? A pure function of the numbers and the policy.

Rules, in the order they are reported:

- `primary-threshold`: the challenger meets the primary metric's absolute bound.
- `primary-min-absolute-change`, `primary-min-relative-change`: it improves on
  the champion by at least that much (MLflow `MetricThreshold` semantics:
  improvement is measured in the metric's better direction).
- `primary-significance`: a one-sided test says the challenger is better, at
  the policy's level after the Holm correction over this test and the guardrail
  tests.
- `guardrail:<metric>`: the metric does not get worse by more than the margin;
  with a significance level, non-inferiority must be shown by a one-sided test.
- `threshold:<metric>`: absolute bounds on the challenger.

On a first deployment (no champion) only the absolute bounds apply.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.comparison import METRIC_DIRECTIONS, Comparison, Direction, MetricComparison
from bot.domain.policy import Correction, GuardrailRule, Policy

Z_95 = 1.959963984540054


class Outcome(enum.StrEnum):
    """The verdict on a challenger."""

    PROMOTE = "promote"
    REJECT = "reject"


class RuleResult(BaseModel):
    """One rule of the policy applied to one comparison."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Rule name, e.g. `primary-significance`.")
    passed: bool = Field(description="Whether the rule is met.")
    observed: float | None = Field(default=None, description="The value the rule looked at.")
    required: float | None = Field(default=None, description="The bound it was held to.")
    detail: str = Field(description="One sentence a reviewer understands.")


class Verdict(BaseModel):
    """The outcome and the reasons for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Outcome = Field(description="`promote` when every rule passed.")
    rules: tuple[RuleResult, ...] = Field(description="One result per rule, in policy order.")
    first_deployment: bool = Field(description="True when there was no champion.")
    primary_metric: str = Field(description="The policy's primary metric.")
    primary_improvement: float | None = Field(
        description="Primary improvement in its better direction; None without a champion."
    )
    automerge_eligible: bool = Field(description="Whether the policy lets the bot merge alone.")

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        """The rules that did not pass."""
        return tuple(r for r in self.rules if not r.passed)


def direction_of(metric: str, explicit: Direction | None) -> Direction:
    """The rule's direction, or the metric's natural one (maximize when unknown)."""
    return explicit or METRIC_DIRECTIONS.get(metric, Direction.MAXIMIZE)


def improvement(delta: float, direction: Direction) -> float:
    """A delta turned so that positive always means better."""
    return delta if direction is Direction.MAXIMIZE else -delta


def primary_gain(
    policy: Policy, challenger: Mapping[str, float], champion: Mapping[str, float] | None
) -> float | None:
    """The primary metric's improvement between two sets of metrics; None when unknown."""
    metric = policy.compare.primary.metric
    if champion is None or metric not in challenger or metric not in champion:
        return None
    delta = challenger[metric] - champion[metric]
    return improvement(delta, direction_of(metric, policy.compare.primary.direction))


def is_automerge_allowed(policy: Policy, passed: bool, gain: float | None) -> bool:
    """The policy lets the bot merge alone: the rules passed and the gain is large enough."""
    rule = policy.approval.automerge
    if not (passed and rule.enabled):
        return False
    return rule.min_improvement is None or (gain is not None and gain >= rule.min_improvement)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _missing(name: str, metric: str) -> RuleResult:
    return RuleResult(
        name=name,
        passed=False,
        detail=f"metric `{metric}` was not measured for both models; log it or fix the policy",
    )


def _threshold_rule(
    name: str, metric: MetricComparison, bound: float, direction: Direction
) -> RuleResult:
    ok = (
        metric.challenger >= bound
        if direction is Direction.MAXIMIZE
        else metric.challenger <= bound
    )
    word = "at least" if direction is Direction.MAXIMIZE else "at most"
    return RuleResult(
        name=name,
        passed=ok,
        observed=metric.challenger,
        required=bound,
        detail=f"{metric.name} is {_fmt(metric.challenger)}; it must be {word} {_fmt(bound)}",
    )


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def non_inferiority_p(
    metric: MetricComparison, margin: float, direction: Direction
) -> float | None:
    """One-sided p-value that the loss exceeds `margin`, from the 95% interval.

    The paired estimators promobot uses are asymptotically normal, so the
    interval's half-width gives the standard error.
    """
    if metric.delta is None or metric.ci_low is None or metric.ci_high is None:
        return None
    se = (metric.ci_high - metric.ci_low) / (2 * Z_95)
    gain = improvement(metric.delta, direction)
    if se <= 0:
        return 0.0 if gain > -margin else 1.0
    return _normal_sf((gain + margin) / se)


def holm_adjust(p_values: dict[str, float], correction: Correction) -> dict[str, float]:
    """Holm step-down adjusted p-values (unchanged with `none`)."""
    if correction is Correction.NONE:
        return dict(p_values)
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    m, running, adjusted = len(ordered), 0.0, {}
    for i, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[name] = running
    return adjusted


@dataclass(frozen=True)
class _Tests:
    raw: dict[str, float]
    adjusted: dict[str, float]


def _collect_tests(comparison: Comparison, policy: Policy) -> _Tests:
    compare = policy.compare
    raw: dict[str, float] = {}
    primary = comparison.metrics.get(compare.primary.metric)
    if compare.primary.significance is not None and primary and primary.p_value is not None:
        raw["primary"] = primary.p_value
    for guard in compare.guardrails:
        metric = comparison.metrics.get(guard.metric)
        if guard.significance is None or metric is None:
            continue
        p = non_inferiority_p(
            metric, guard.max_regression, direction_of(guard.metric, guard.direction)
        )
        if p is not None:
            raw[f"guardrail:{guard.metric}"] = p
    return _Tests(raw=raw, adjusted=holm_adjust(raw, compare.correction))


def _primary_rules(comparison: Comparison, policy: Policy, tests: _Tests) -> list[RuleResult]:
    rule = policy.compare.primary
    metric = comparison.metrics.get(rule.metric)
    direction = direction_of(rule.metric, rule.direction)
    if metric is None:
        return [_missing("primary", rule.metric)]
    results: list[RuleResult] = []
    if rule.threshold is not None:
        results.append(_threshold_rule("primary-threshold", metric, rule.threshold, direction))
    if metric.delta is None or metric.champion is None:
        return results
    gain = improvement(metric.delta, direction)
    if rule.min_absolute_change is not None:
        results.append(
            RuleResult(
                name="primary-min-absolute-change",
                passed=gain >= rule.min_absolute_change,
                observed=gain,
                required=rule.min_absolute_change,
                detail=f"{rule.metric} improved by {_fmt(gain)}; at least "
                f"{_fmt(rule.min_absolute_change)} is required",
            )
        )
    if rule.min_relative_change is not None:
        relative = gain / abs(metric.champion) if metric.champion else math.inf * (gain > 0)
        results.append(
            RuleResult(
                name="primary-min-relative-change",
                passed=relative >= rule.min_relative_change,
                observed=relative,
                required=rule.min_relative_change,
                detail=f"{rule.metric} improved by {relative:.2%} of the champion's value; at "
                f"least {rule.min_relative_change:.2%} is required",
            )
        )
    if rule.significance is not None:
        results.append(_significance_rule(rule.metric, rule.significance, gain, tests))
    return results


def _significance_rule(metric: str, alpha: float, gain: float, tests: _Tests) -> RuleResult:
    if "primary" not in tests.adjusted:
        return RuleResult(
            name="primary-significance",
            passed=True,
            required=alpha,
            detail="not tested: no paired evaluation data, so only logged metrics were "
            "compared (name an evaluation dataset in the policy to test significance)",
        )
    p = tests.adjusted["primary"]
    corrected = " (Holm-adjusted)" if len(tests.raw) > 1 else ""
    return RuleResult(
        name="primary-significance",
        passed=p < alpha and gain > 0,
        observed=p,
        required=alpha,
        detail=f"one-sided p-value that {metric} improved is {_fmt(p)}{corrected}; "
        f"it must be below {_fmt(alpha)}",
    )


def _guardrail_rule(comparison: Comparison, guard: GuardrailRule, tests: _Tests) -> RuleResult:
    name = f"guardrail:{guard.metric}"
    metric = comparison.metrics.get(guard.metric)
    if metric is None:
        return _missing(name, guard.metric)
    if metric.delta is None:
        return RuleResult(
            name=name, passed=True, detail="first deployment: nothing to regress from"
        )
    gain = improvement(metric.delta, direction_of(guard.metric, guard.direction))
    ok = gain >= -guard.max_regression
    detail = (
        f"{guard.metric} changed by {_fmt(gain)} in its better direction; "
        f"a loss of at most {_fmt(guard.max_regression)} is tolerated"
    )
    if guard.significance is not None and name in tests.adjusted:
        p = tests.adjusted[name]
        ok = ok and p < guard.significance
        detail += f"; non-inferiority p-value {_fmt(p)} must be below {_fmt(guard.significance)}"
    return RuleResult(
        name=name, passed=ok, observed=gain, required=-guard.max_regression, detail=detail
    )


def decide(comparison: Comparison, policy: Policy) -> Verdict:
    """The verdict on the challenger under `policy`. Pure: no I/O, no clock."""
    compare = policy.compare
    tests = _collect_tests(comparison, policy)
    rules = _primary_rules(comparison, policy, tests)
    first = comparison.is_first_deployment
    if not first:
        rules.extend(_guardrail_rule(comparison, g, tests) for g in compare.guardrails)
    for bound in compare.thresholds:
        name = f"threshold:{bound.metric}"
        metric = comparison.metrics.get(bound.metric)
        direction = direction_of(bound.metric, bound.direction)
        rules.append(
            _missing(name, bound.metric)
            if metric is None
            else _threshold_rule(name, metric, bound.threshold, direction)
        )
    primary = comparison.metrics.get(compare.primary.metric)
    gain = (
        improvement(primary.delta, direction_of(primary.name, compare.primary.direction))
        if primary is not None and primary.delta is not None
        else None
    )
    passed = all(r.passed for r in rules)
    return Verdict(
        verdict=Outcome.PROMOTE if passed else Outcome.REJECT,
        rules=tuple(rules),
        first_deployment=first,
        primary_metric=compare.primary.metric,
        primary_improvement=gain,
        automerge_eligible=is_automerge_allowed(policy, passed, gain),
    )
