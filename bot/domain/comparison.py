"""The result of evaluating a challenger against a champion: plain data, no I/O.

The evaluation package produces a `Comparison`; the verdict and the report read
it. Keeping it here, in the pure core, lets both sides agree on one shape.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.curves import Curves


class Task(enum.StrEnum):
    """What kind of prediction the two models make."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class Direction(enum.StrEnum):
    """Whether a larger value of a metric is better or worse."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


METRIC_DIRECTIONS: dict[str, Direction] = {
    "accuracy": Direction.MAXIMIZE,
    "precision": Direction.MAXIMIZE,
    "recall": Direction.MAXIMIZE,
    "f1": Direction.MAXIMIZE,
    "roc_auc": Direction.MAXIMIZE,
    "log_loss": Direction.MINIMIZE,
    "rmse": Direction.MINIMIZE,
    "mae": Direction.MINIMIZE,
    "r2": Direction.MAXIMIZE,
}
"""The natural direction of every metric promobot computes itself."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricComparison(_Frozen):
    """One metric of the champion beside the same metric of the challenger."""

    name: str = Field(description="Metric name, for example `f1`.")
    champion: float | None = Field(
        description="The champion's value; None on a first deployment (no champion)."
    )
    challenger: float = Field(description="The challenger's value.")
    delta: float | None = Field(
        description="challenger - champion, whatever the direction; None without a champion."
    )
    ci_low: float | None = Field(
        default=None, description="Lower end of the 95% confidence interval of the paired delta."
    )
    ci_high: float | None = Field(
        default=None, description="Upper end of the 95% confidence interval of the paired delta."
    )
    p_value: float | None = Field(
        default=None,
        description="One-sided p-value of the hypothesis that the challenger is not better.",
    )
    method: str | None = Field(
        default=None,
        description="How the interval and p-value were computed (for example `paired bootstrap`).",
    )


class Provenance(_Frozen):
    """What was compared, so that anyone can reproduce the evaluation."""

    data_sha256: str | None = Field(default=None, description="SHA-256 of the evaluation data.")
    data_path: str | None = Field(default=None, description="Where the evaluation data was read.")
    label: str | None = Field(default=None, description="The label column.")
    champion_uri: str | None = Field(default=None, description="Model URI of the champion.")
    challenger_uri: str | None = Field(default=None, description="Model URI of the challenger.")
    champion_run_id: str | None = Field(default=None, description="Run that produced the champion.")
    challenger_run_id: str | None = Field(
        default=None, description="Run that produced the challenger."
    )
    code_version: str = Field(description="promobot version that ran the evaluation.")
    command: str | None = Field(default=None, description="The command that reproduces it.")


class Comparison(_Frozen):
    """Champion against challenger on every metric, with paired statistics."""

    task: Task = Field(description="Prediction task of both models.")
    n: int = Field(description="Number of rows both models scored (0 when only logged metrics).")
    metrics: dict[str, MetricComparison] = Field(description="Comparisons keyed by metric name.")
    notes: tuple[str, ...] = Field(
        default=(), description="Things the reader should know, e.g. metrics left out."
    )
    provenance: Provenance = Field(description="Inputs and code version behind the numbers.")
    curves: Curves | None = Field(
        default=None,
        description="Both models' ROC and calibration curves, per-class scores or residuals, "
        "when the evaluation scored rows.",
    )

    @property
    def is_first_deployment(self) -> bool:
        """True when there is no champion to compare against."""
        return all(m.champion is None for m in self.metrics.values())

    def to_json_dict(self) -> dict[str, Any]:
        """The `metrics` part of the CLI's JSON contract."""
        return {
            name: {
                "champion": m.champion,
                "challenger": m.challenger,
                "delta": m.delta,
                "ci_low": m.ci_low,
                "ci_high": m.ci_high,
                "p_value": m.p_value,
                "method": m.method,
            }
            for name, m in self.metrics.items()
        }
