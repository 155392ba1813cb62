"""Champion against challenger on a classification task, fed chunk by chunk.

What is kept between chunks:
- the joint counts of (label, champion's class, challenger's class): O(k^3),
  whatever the number of rows; they give accuracy, precision, recall, f1 and
  their bootstrap;
- the streaming moments of the per-row log losses: O(1);
- for roc_auc only, every row's label code (int32) and each model's
  probabilities (float64; one column for a binary task, k otherwise). This is
  the only part that grows with N: 20 bytes a row for a binary task.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bot.domain.comparison import METRIC_DIRECTIONS, MetricComparison, Task
from bot.errors import UserInputError
from bot.evaluation import methods
from bot.evaluation.confusion import (
    CONFUSION_METRICS,
    JointCounts,
    bootstrap_deltas,
    confusion_metrics,
    side_matrices,
)
from bot.evaluation.delong import PairedAuc, paired_binary_auc, paired_macro_ovr_auc
from bot.evaluation.paired import (
    PairedMoments,
    bootstrap_comparison,
    challenger_only,
    normal_comparison,
    t_comparison,
    values_only,
)
from bot.evaluation.predictions import (
    Codebook,
    FloatArray,
    IntArray,
    Predictions,
    as_probability_matrix,
)

SIDES = ("champion", "challenger")
MAX_CLASSES = 200
"""The joint counts hold k^3 cells: 200 classes are 64 MB; more is almost surely a regression."""


@dataclass
class _Scores:
    """One model's probabilities as they stream by."""

    classes: tuple[Hashable, ...]
    codes: IntArray
    positive_only: bool
    chunks: list[FloatArray] = field(default_factory=list)


@dataclass
class ClassificationResult:
    """Metrics of a classification comparison, and what the reader should know."""

    task: Task
    metrics: dict[str, MetricComparison]
    notes: list[str]


class ClassificationAccumulator:
    """Collects what the classification metrics need; `finish` computes them."""

    def __init__(self, task: Task | None, *, with_champion: bool) -> None:
        self.task = task
        self.with_champion = with_champion
        self.n = 0
        self.codebook = Codebook()
        self.joint = JointCounts()
        self._labels: list[npt.NDArray[np.int32]] = []
        self._scores: dict[str, _Scores] = {}
        self._has_probabilities = True
        self._losses: PairedMoments | None = PairedMoments()
        self._notes: list[str] = []

    def add(self, labels: npt.ArrayLike, champion: Predictions, challenger: Predictions) -> None:
        """Fold one chunk of rows in; on a first deployment `champion` repeats the challenger."""
        y = self.codebook.encode(labels)
        a = self.codebook.encode(champion.labels)
        b = self.codebook.encode(challenger.labels)
        if not (y.size == a.size == b.size):
            raise UserInputError(
                f"labels and predictions differ in length: {y.size}, {a.size}, {b.size}"
            )
        if self.codebook.size > MAX_CLASSES:
            raise UserInputError(
                f"{self.codebook.size} distinct classes among the labels and predictions; "
                f"promobot compares classifiers of at most {MAX_CLASSES} classes",
                hint="if the target is a number, evaluate the models as regressors "
                "(their predictions must be numbers that are not all whole)",
            )
        self.joint.add(y, a, b, self.codebook.size)
        self.n += y.size
        if self._has_probabilities:
            self._add_probabilities(y, champion, challenger)

    def label_counts(self) -> dict[Hashable, int]:
        """Rows per class among the labels (classes only the models predict are left out)."""
        counts = self.joint.counts.sum(axis=(1, 2))
        return {
            label: int(count)
            for label, count in zip(self.codebook.labels, counts, strict=False)
            if count
        }

    def _add_probabilities(
        self, y: IntArray, champion: Predictions, challenger: Predictions
    ) -> None:
        matrices: list[FloatArray] = []
        for side, predictions in zip(SIDES, (champion, challenger), strict=True):
            converted = as_probability_matrix(predictions, self.codebook.labels)
            if converted is None:
                self._has_probabilities = False
                self._scores.clear()
                self._labels.clear()
                self._notes.append(
                    f"roc_auc and log_loss left out: the {side} gives no probabilities."
                )
                return
            matrices.append(self._keep_scores(side, *converted))
        self._labels.append(y.astype(np.int32))
        if self._losses is not None:
            self._add_losses(y, matrices)

    def _keep_scores(
        self, side: str, matrix: FloatArray, classes: tuple[Hashable, ...]
    ) -> FloatArray:
        state = self._scores.get(side)
        if state is None:
            positive_only = len(classes) == 2 and self.task is not Task.MULTICLASS
            state = _Scores(classes, self.codebook.encode_classes(classes), positive_only)
            self._scores[side] = state
        elif state.classes != classes:
            raise UserInputError(f"the {side}'s probability columns changed between chunks")
        kept = matrix[:, _greatest(classes)].copy() if state.positive_only else matrix
        state.chunks.append(kept)
        return matrix

    def _add_losses(self, y: IntArray, matrices: list[FloatArray]) -> None:
        assert self._losses is not None
        eps = np.finfo(np.float64).eps
        losses = []
        for side, matrix in zip(SIDES, matrices, strict=True):
            codes = self._scores[side].codes
            column_of = np.full(self.codebook.size, -1, dtype=np.int64)
            column_of[codes] = np.arange(codes.size)
            columns = column_of[y]
            if (columns < 0).any():
                self._losses = None
                self._notes.append(f"log_loss left out: some labels have no {side} probability.")
                return
            chosen = matrix[np.arange(y.size), columns]
            losses.append(-np.log(np.clip(chosen, eps, 1 - eps)))
        self._losses.add(losses[0], losses[1])

    def finish(self, *, seed: int, n_resamples: int) -> ClassificationResult:
        """Point values, intervals and p-values of every classification metric."""
        if self.n == 0:
            raise UserInputError("no rows to evaluate", hint="check that the data file has rows")
        order = self.codebook.sorted_order()
        self.joint.grow(self.codebook.size)
        joint = self.joint.reordered(order)
        task = self._resolve_task(joint.shape[0])
        metrics = self._confusion_comparisons(joint, task, seed, n_resamples)
        notes = list(self._notes)
        auc = self._auc(task, order, notes)
        if auc is not None:
            metrics["roc_auc"] = self._auc_comparison(task, auc)
        log_loss = self._log_loss_comparison(notes)
        if log_loss is not None:
            metrics["log_loss"] = log_loss
        return ClassificationResult(task=task, metrics=metrics, notes=list(dict.fromkeys(notes)))

    def _resolve_task(self, k: int) -> Task:
        if self.task is Task.BINARY and k > 2:
            labels = sorted(map(str, self.codebook.labels))
            raise UserInputError(
                f"a binary task cannot have {k} classes: {labels}",
                hint="evaluate it as a multiclass task, or check the label column",
            )
        if self.task is not None:
            return self.task
        return Task.BINARY if k <= 2 else Task.MULTICLASS

    def _confusion_comparisons(
        self, joint: npt.NDArray[np.int64], task: Task, seed: int, n_resamples: int
    ) -> dict[str, MetricComparison]:
        positive = joint.shape[0] - 1 if task is Task.BINARY else None
        champion_cm, challenger_cm = side_matrices(joint)
        before = confusion_metrics(champion_cm, positive)
        after = confusion_metrics(challenger_cm, positive)
        if not self.with_champion:
            return {name: challenger_only(name, float(after[name])) for name in CONFUSION_METRICS}
        rng = np.random.default_rng(seed)
        deltas = bootstrap_deltas(joint, positive, rng, n_resamples)
        method = methods.bootstrap(n_resamples)
        return {
            name: bootstrap_comparison(
                name,
                (float(before[name]), float(after[name])),
                deltas[name],
                METRIC_DIRECTIONS[name],
                method,
            )
            for name in CONFUSION_METRICS
        }

    def _auc(self, task: Task, order: IntArray, notes: list[str]) -> PairedAuc | None:
        if not self._has_probabilities:
            return None
        k = order.size
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        y = rank[np.concatenate(self._labels)]
        if np.bincount(y, minlength=k).min() == 0 or k < 2:
            notes.append("roc_auc left out: some class never occurs among the labels.")
            return None
        scores = []
        for side in SIDES:
            state = self._scores[side]
            covers = sorted(rank[state.codes].tolist()) == list(range(k))
            if not covers or state.positive_only != (task is Task.BINARY):
                notes.append(
                    f"roc_auc left out: the {side}'s probabilities do not match the classes."
                )
                return None
            stacked = np.concatenate(state.chunks)
            scores.append(
                stacked if state.positive_only else stacked[:, np.argsort(rank[state.codes])]
            )
        if task is Task.BINARY:
            return paired_binary_auc(scores[0], scores[1], y == k - 1)
        return paired_macro_ovr_auc(scores[0], scores[1], y)

    def _auc_comparison(self, task: Task, auc: PairedAuc) -> MetricComparison:
        if not self.with_champion:
            return challenger_only("roc_auc", auc.challenger)
        method = methods.DELONG if task is Task.BINARY else methods.DELONG_OVR
        values = (auc.champion, auc.challenger)
        return normal_comparison("roc_auc", values, auc.se, METRIC_DIRECTIONS["roc_auc"], method)

    def _log_loss_comparison(self, notes: list[str]) -> MetricComparison | None:
        moments = self._losses
        if moments is None or not self._has_probabilities:
            return None
        values = moments.means
        if not self.with_champion:
            return challenger_only("log_loss", values[1])
        if moments.n < 2:
            notes.append("log_loss has no interval: fewer than two rows.")
            return values_only("log_loss", values)
        return t_comparison(
            "log_loss",
            values,
            mean_difference=moments.difference_mean,
            difference_variance=moments.difference_variance,
            n=moments.n,
            direction=METRIC_DIRECTIONS["log_loss"],
            method=methods.PAIRED_T_LOG_LOSS,
        )


def _greatest(classes: tuple[Hashable, ...]) -> int:
    """Index of the positive class: the greater label, as scikit-learn's binary metrics take it."""
    try:
        return max(range(len(classes)), key=lambda i: classes[i])  # type: ignore[arg-type,return-value]
    except TypeError as error:
        raise UserInputError(f"class labels cannot be ordered: {list(classes)}") from error
