"""The pictures of an evaluation as data: few points per curve, small enough for a record.

Binary classifiers get a ROC curve and a calibration curve each, multiclass classifiers a
score per class, regressors a histogram of their residuals on bins both models share.
`bot.evaluation.curves` computes them from the scored rows; the board draws them as SVG
and the pull request report as Mermaid charts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_POINTS = 50
"""At most this many points per curve, bins per histogram or classes per bar chart."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RocPoint(_Frozen):
    """One point of a ROC curve: the rates at one score threshold."""

    false_positive_rate: float = Field(ge=0, le=1, description="False positives / negatives.")
    true_positive_rate: float = Field(ge=0, le=1, description="True positives / positives.")


class CalibrationBin(_Frozen):
    """Rows whose predicted probability of the positive class falls in [low, high)."""

    low: float = Field(ge=0, le=1, description="Lower edge of the predicted probability.")
    high: float = Field(ge=0, le=1, description="Upper edge (the last bin includes 1).")
    mean_predicted: float = Field(ge=0, le=1, description="Mean predicted probability.")
    observed: float = Field(ge=0, le=1, description="Share of the rows that are positive.")
    count: int = Field(gt=0, description="Rows in the bin.")


class ClassScore(_Frozen):
    """How well one class is predicted."""

    label: str = Field(description="The class, as text.")
    precision: float = Field(ge=0, le=1, description="Right among the rows predicted as it.")
    recall: float = Field(ge=0, le=1, description="Found among the rows that are it.")
    f1: float = Field(ge=0, le=1, description="Harmonic mean of precision and recall.")
    support: int = Field(ge=0, description="Rows labelled with the class.")


class ResidualBin(_Frozen):
    """Rows whose residual (prediction - label) falls in [low, high)."""

    low: float = Field(description="Lower edge (the first bin also holds everything below).")
    high: float = Field(description="Upper edge (the last bin also holds everything above).")
    count: int = Field(ge=0, description="Rows in the bin.")


class ModelCurves(_Frozen):
    """One model's curves; only those of its task are filled."""

    roc: tuple[RocPoint, ...] = Field(
        default=(),
        max_length=MAX_POINTS,
        description="ROC curve from (0, 0) to (1, 1), by increasing false positive rate.",
    )
    calibration: tuple[CalibrationBin, ...] = Field(
        default=(), max_length=MAX_POINTS, description="Calibration bins that hold rows."
    )
    classes: tuple[ClassScore, ...] = Field(
        default=(),
        max_length=MAX_POINTS,
        description="Per-class scores, the classes with the most rows first.",
    )
    residuals: tuple[ResidualBin, ...] = Field(
        default=(),
        max_length=MAX_POINTS,
        description="Histogram of the residuals, on the same bins for both models.",
    )


class Curves(_Frozen):
    """Both models' curves on the evaluation rows."""

    champion: ModelCurves | None = Field(
        description="The champion's curves; None on a first deployment."
    )
    challenger: ModelCurves = Field(description="The challenger's curves.")
    notes: tuple[str, ...] = Field(
        default=(), description="What the curves leave out (classes beyond the limit, ...)."
    )
