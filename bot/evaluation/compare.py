"""Library entries: compare two models from their predictions, or from logged metrics."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy.typing as npt

import bot
from bot.domain.comparison import Comparison, MetricComparison, Provenance, Task
from bot.domain.curves import Curves
from bot.evaluation.classification import ClassificationAccumulator
from bot.evaluation.curves import CurvesAccumulator
from bot.evaluation.predictions import Predictions
from bot.evaluation.regression import RegressionAccumulator

DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples for the confusion-matrix metrics (1,000 or more keep the 95% ends stable)."""


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of a paired evaluation and the notes about metrics left out."""

    task: Task
    n: int
    metrics: dict[str, MetricComparison]
    notes: tuple[str, ...]
    curves: Curves | None = None

    def comparison(self, provenance: Provenance) -> Comparison:
        """The whole comparison, with where its data and models came from."""
        return Comparison(
            task=self.task,
            n=self.n,
            metrics=self.metrics,
            notes=self.notes,
            curves=self.curves,
            provenance=provenance,
        )


class PairedEvaluation:
    """Feeds chunks of paired predictions to the task's accumulator.

    `task=None` lets a classification decide binary or multiclass from the
    number of classes seen; regression must be named. Without a champion
    (first deployment) only the challenger's values are reported.
    """

    def __init__(self, task: Task | None, *, with_champion: bool = True) -> None:
        self.with_champion = with_champion
        self._accumulator: ClassificationAccumulator | RegressionAccumulator = (
            RegressionAccumulator(with_champion=with_champion)
            if task is Task.REGRESSION
            else ClassificationAccumulator(task, with_champion=with_champion)
        )
        self._curves = CurvesAccumulator()

    @property
    def n(self) -> int:
        """Rows folded in so far."""
        return self._accumulator.n

    def label_counts(self) -> dict[Hashable, int] | None:
        """Rows per class among the labels of a classification; None for a regression."""
        accumulator = self._accumulator
        if isinstance(accumulator, RegressionAccumulator):
            return None
        return accumulator.label_counts()

    def add(
        self, labels: npt.ArrayLike, champion: Predictions | None, challenger: Predictions
    ) -> None:
        """Fold one chunk of rows in (both models' predictions for the same rows)."""
        if (champion is None) == self.with_champion:
            expected = "a champion" if self.with_champion else "no champion"
            raise ValueError(f"this evaluation was set up with {expected}")
        self._accumulator.add(labels, champion or challenger, challenger)
        self._curves.add(labels, champion, challenger)

    def finish(self, *, seed: int = 0, n_resamples: int = DEFAULT_RESAMPLES) -> EvaluationResult:
        """Every metric with its interval and p-value (seeded, so reproducible)."""
        if n_resamples < 1:
            raise ValueError("n_resamples must be positive")
        accumulator = self._accumulator
        if isinstance(accumulator, RegressionAccumulator):
            regression = accumulator.finish()
            return EvaluationResult(
                Task.REGRESSION,
                accumulator.n,
                regression.metrics,
                tuple(regression.notes),
                self._curves.finish(Task.REGRESSION),
            )
        result = accumulator.finish(seed=seed, n_resamples=n_resamples)
        return EvaluationResult(
            result.task,
            accumulator.n,
            result.metrics,
            tuple(result.notes),
            self._curves.finish(result.task),
        )


def evaluate_predictions(
    task: Task,
    y_true: npt.ArrayLike,
    champion: Predictions | None,
    challenger: Predictions,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> EvaluationResult:
    """`compare_predictions`, with the task, the row count and the notes."""
    evaluation = PairedEvaluation(task, with_champion=champion is not None)
    evaluation.add(y_true, champion, challenger)
    return evaluation.finish(seed=seed, n_resamples=n_resamples)


def compare_predictions(
    task: Task,
    y_true: npt.ArrayLike,
    champion: Predictions | None,
    challenger: Predictions,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, MetricComparison]:
    """Champion against challenger on the same rows, every metric with a paired test.

    `champion=None` is a first deployment: challenger values only. roc_auc
    and log_loss appear only when both models give scores.
    """
    result = evaluate_predictions(
        task, y_true, champion, challenger, seed=seed, n_resamples=n_resamples
    )
    return result.metrics


def comparison_of_predictions(
    task: Task,
    y_true: npt.ArrayLike,
    champion: Predictions | None,
    challenger: Predictions,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> Comparison:
    """`compare_predictions` as a whole `Comparison` (notes included, no data provenance)."""
    result = evaluate_predictions(
        task, y_true, champion, challenger, seed=seed, n_resamples=n_resamples
    )
    return result.comparison(Provenance(code_version=bot.__version__))


def compare_metrics(
    champion: Mapping[str, float] | None, challenger: Mapping[str, float]
) -> dict[str, MetricComparison]:
    """Logged metrics side by side, without intervals: the comparison when there is no dataset.

    Every metric the challenger logged is listed; the champion's value is None
    when it did not log that metric or when there is no champion.
    """
    comparisons = {}
    for name, value in challenger.items():
        before = None if champion is None else champion.get(name)
        after = float(value)
        comparisons[name] = MetricComparison(
            name=name,
            champion=None if before is None else float(before),
            challenger=after,
            delta=None if before is None else after - float(before),
        )
    return comparisons
