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
        self._absolute = Moments(2)
        self._squared = Moments(2)
        self._labels = Moments(1)

    def add(self, labels: npt.ArrayLike, champion: Predictions, challenger: Predictions) -> None:
        """Fold one chunk of rows in; on a first deployment `champion` repeats the challenger."""
        y = _as_float(labels, "labels")
        errors = np.column_stack(
            [
                _as_float(champion.labels, "the champion's predictions") - y,
                _as_float(challenger.labels, "the challenger's predictions") - y,
            ]
        )
        self._absolute.add(np.abs(errors))
        self._squared.add(errors * errors)
        self._labels.add(y[:, np.newaxis])
        self.n += y.size

    def finish(self) -> RegressionResult:
        """Point values, intervals and p-values of rmse, mae and r2."""
        if self.n == 0:
            raise UserInputError("no rows to evaluate", hint="check that the data file has rows")
        mse = (float(self._squared.mean[0]), float(self._squared.mean[1]))
        mae = (float(self._absolute.mean[0]), float(self._absolute.mean[1]))
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
        # Delta method: the interval maps the covariance of both mean squared errors through sqrt.
        covariance = self._squared.covariance() / self.n
        gradient = np.array([-0.5 / rmse[0], 0.5 / rmse[1]])
        se = math.sqrt(max(float(gradient @ covariance @ gradient), 0.0))
        interval = normal_comparison("rmse", rmse, se, direction, methods.PAIRED_T_RMSE)
        # rmse is smaller exactly when the mean squared error is: test on that scale.
        mse = (float(self._squared.mean[0]), float(self._squared.mean[1]))
        mean_difference, variance = _difference(self._squared)
        test = t_comparison(
            "rmse",
            mse,
            mean_difference=mean_difference,
            difference_variance=variance,
            n=self.n,
            direction=direction,
            method=methods.PAIRED_T_RMSE,
        )
        return interval.model_copy(update={"p_value": test.p_value})

    def _r2(self, r2: tuple[float, float], sst: float, notes: list[str]) -> MetricComparison:
        if sst == 0.0:
            notes.append("r2 has no interval: the labels are constant.")
            return values_only("r2", r2)
        mse_difference, variance = _difference(self._squared)
        return t_comparison(
            "r2",
            r2,
            mean_difference=mse_difference,
            difference_variance=variance,
            n=self.n,
            direction=METRIC_DIRECTIONS["r2"],
            method=methods.PAIRED_T_R2,
            scale=-self.n / sst,
        )


def _difference(moments: Moments) -> tuple[float, float]:
    """Mean and sample variance of challenger - champion from paired moments."""
    cov = moments.covariance()
    return (
        float(moments.mean[1] - moments.mean[0]),
        float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]),
    )


def _paired_t(
    name: str, values: tuple[float, float], moments: Moments, method: str
) -> MetricComparison:
    mean_difference, variance = _difference(moments)
    return t_comparison(
        name,
        values,
        mean_difference=mean_difference,
        difference_variance=variance,
        n=moments.n,
        direction=METRIC_DIRECTIONS[name],
        method=method,
    )


def _r2(mse: float, sst: float, n: int) -> float:
    """scikit-learn's r2_score, including its answer for constant labels."""
    if sst == 0.0:
        return 1.0 if mse == 0.0 else 0.0
    return 1.0 - mse * n / sst
