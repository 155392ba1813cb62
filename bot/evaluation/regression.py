"""Champion against challenger on a regression task, fed chunk by chunk.

Only streaming moments are kept (O(1) memory): of the absolute errors, of
the squared errors (both models, with their covariance) and of the labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.domain.comparison import METRIC_DIRECTIONS, MetricComparison
from bot.errors import UserInputError
from bot.evaluation import methods
from bot.evaluation.paired import (
    Moments,
    PairedMoments,
    challenger_only,
    normal_comparison,
    t_comparison,
    values_only,
)
from bot.evaluation.predictions import FloatArray, Predictions


@dataclass
class RegressionResult:
    """Metrics of a regression comparison, and what the reader should know."""

    metrics: dict[str, MetricComparison]
    notes: list[str]


def _as_float(values: npt.ArrayLike, what: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise UserInputError(
            f"{what} must be numbers for a regression task",
            hint="check the label column, or evaluate the models as classifiers",
        ) from error
    if not np.isfinite(array).all():
        raise UserInputError(
            f"{what} contain missing or infinite values",
            hint="drop or fill those rows before evaluating",
        )
    return array.ravel()


class RegressionAccumulator:
    """Collects what rmse, mae and r2 need; `finish` computes them."""

    def __init__(self, *, with_champion: bool) -> None:
        self.with_champion = with_champion
        self.n = 0
        self._absolute = PairedMoments()
        self._squared = PairedMoments()
        self._labels = Moments(1)

    def add(self, labels: npt.ArrayLike, champion: Predictions, challenger: Predictions) -> None:
        """Fold one chunk of rows in; on a first deployment `champion` repeats the challenger."""
        y = _as_float(labels, "labels")
        before = _as_float(champion.labels, "the champion's predictions") - y
        after = _as_float(challenger.labels, "the challenger's predictions") - y
        if not (y.size == before.size == after.size):
            raise UserInputError(
                f"labels and predictions differ in length: {y.size}, {before.size}, {after.size}"
            )
        self._absolute.add(np.abs(before), np.abs(after))
        self._squared.add(before * before, after * after)
        self._labels.add(y[:, np.newaxis])
        self.n += y.size

    def finish(self) -> RegressionResult:
        """Point values, intervals and p-values of rmse, mae and r2."""
        if self.n == 0:
            raise UserInputError("no rows to evaluate", hint="check that the data file has rows")
        mse = self._squared.means
        mae = self._absolute.means
        sst = float(self._labels.comoment[0, 0])
        r2 = (_r2(mse[0], sst, self.n), _r2(mse[1], sst, self.n))
        rmse = (math.sqrt(mse[0]), math.sqrt(mse[1]))
        if not self.with_champion:
            return RegressionResult(
                metrics={
                    "rmse": challenger_only("rmse", rmse[1]),
                    "mae": challenger_only("mae", mae[1]),
                    "r2": challenger_only("r2", r2[1]),
                },
                notes=[],
            )
        if self.n < 2:
            return RegressionResult(
                metrics={
                    "rmse": values_only("rmse", rmse),
                    "mae": values_only("mae", mae),
                    "r2": values_only("r2", r2),
                },
                notes=["no intervals: fewer than two rows."],
            )
        notes: list[str] = []
        metrics = {
            "rmse": self._rmse(rmse),
            "mae": _paired_t("mae", mae, self._absolute, methods.PAIRED_T_ABSOLUTE),
            "r2": self._r2(r2, sst, notes),
        }
        return RegressionResult(metrics=metrics, notes=notes)

    def _rmse(self, rmse: tuple[float, float]) -> MetricComparison:
        direction = METRIC_DIRECTIONS["rmse"]
        if min(rmse) == 0.0:
            return normal_comparison("rmse", rmse, 0.0, direction, methods.PAIRED_T_RMSE)
        # Delta method: d sqrt(m) = dm / (2 sqrt(m)) for each model's mean squared error.
        se = self._squared.linear_se(-0.5 / rmse[0], 0.5 / rmse[1])
        interval = normal_comparison("rmse", rmse, se, direction, methods.PAIRED_T_RMSE)
        # rmse is smaller exactly when the mean squared error is: test on that scale.
        test = _paired_t("rmse", self._squared.means, self._squared, methods.PAIRED_T_RMSE)
        return interval.model_copy(update={"p_value": test.p_value})

    def _r2(self, r2: tuple[float, float], sst: float, notes: list[str]) -> MetricComparison:
        if sst == 0.0:
            notes.append("r2 has no interval: the labels are constant.")
            return values_only("r2", r2)
        return t_comparison(
            "r2",
            r2,
            mean_difference=self._squared.difference_mean,
            difference_variance=self._squared.difference_variance,
            n=self.n,
            direction=METRIC_DIRECTIONS["r2"],
            method=methods.PAIRED_T_R2,
            scale=-self.n / sst,
        )


def _paired_t(
    name: str, values: tuple[float, float], moments: PairedMoments, method: str
) -> MetricComparison:
    return t_comparison(
        name,
        values,
        mean_difference=moments.difference_mean,
        difference_variance=moments.difference_variance,
        n=moments.n,
        direction=METRIC_DIRECTIONS[name],
        method=method,
    )


def _r2(mse: float, sst: float, n: int) -> float:
    """scikit-learn's r2_score, including its answer for constant labels."""
    if sst == 0.0:
        return 1.0 if mse == 0.0 else 0.0
    return 1.0 - mse * n / sst
