"""Factories with keyword overrides for the pure core's inputs."""

from __future__ import annotations

from typing import Any

from bot.domain.comparison import Comparison, MetricComparison, Provenance, Task
from bot.domain.policy import (
    ApprovalSection,
    Automerge,
    CompareSection,
    GuardrailRule,
    OnRejected,
    Policy,
    PrimaryRule,
    ScheduleSection,
    ThresholdRule,
    VerifySection,
)


def make_policy(
    *,
    metric: str = "f1",
    min_absolute_change: float | None = 0.0,
    min_relative_change: float | None = None,
    threshold: float | None = None,
    significance: float | None = 0.05,
    guardrails: tuple[GuardrailRule, ...] = (),
    thresholds: tuple[ThresholdRule, ...] = (),
    automerge: Automerge | None = None,
    **sections: Any,
) -> Policy:
    """A complete policy; every rule can be overridden by keyword."""
    compare = CompareSection(
        primary=PrimaryRule(
            metric=metric,
            min_absolute_change=min_absolute_change,
            min_relative_change=min_relative_change,
            threshold=threshold,
            significance=significance,
        ),
        guardrails=guardrails,
        thresholds=thresholds,
    )
    values: dict[str, Any] = {
        "names": ("test",),
        "compare": compare,
        "approval": ApprovalSection(automerge=automerge or Automerge()),
        "schedule": ScheduleSection(),
        "on_rejected": OnRejected.COMMENT,
        "verify": VerifySection(),
    }
    values.update(sections)
    return Policy.model_validate(values)


def make_metric(
    name: str = "f1",
    champion: float | None = 0.80,
    challenger: float = 0.83,
    *,
    ci_half_width: float | None = 0.01,
    p_value: float | None = 0.001,
) -> MetricComparison:
    """A metric comparison; delta and interval follow from the values."""
    delta = None if champion is None else challenger - champion
    paired = delta is not None and ci_half_width is not None
    return MetricComparison(
        name=name,
        champion=champion,
        challenger=challenger,
        delta=delta,
        ci_low=delta - ci_half_width if paired and delta is not None and ci_half_width else None,
        ci_high=delta + ci_half_width if paired and delta is not None and ci_half_width else None,
        p_value=p_value if delta is not None else None,
        method="paired bootstrap" if paired else None,
    )


def make_comparison(*metrics: MetricComparison, n: int = 10_000) -> Comparison:
    """A binary-classification comparison of the given metrics (default: one better f1)."""
    chosen = metrics or (make_metric(),)
    return Comparison(
        task=Task.BINARY,
        n=n,
        metrics={m.name: m for m in chosen},
        provenance=Provenance(code_version="test"),
    )
