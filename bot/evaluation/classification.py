"""Champion against challenger on a classification task, fed chunk by chunk.

What is kept between chunks:
- the joint counts of (label, champion's class, challenger's class): O(k^3),
  whatever the number of rows; they give accuracy, precision, recall, f1 and
  their bootstrap;
- the streaming moments of the per-row log losses: O(1);
- for roc_auc only, every row's label code (int32) and each model's
  probabilities (float64; one column for a binary task, k otherwise). This is
  the only part that grows with N: about 20 bytes a row for a binary task.
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
    Moments,
    bootstrap_comparison,
    challenger_only,
    normal_comparison,
    t_comparison,
)
from bot.evaluation.predictions import Codebook, FloatArray, IntArray, Predictions

_SIDES = ("champion", "challenger")


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
        self._scores: dict[str, _Scores | None] = {}
        self._losses = Moments(2)
        self._notes: list[str] = []

    def add(self, labels: npt.ArrayLike, champion: Predictions, challenger: Predictions) -> None:
        """Fold one chunk of rows in; `champion` repeats the challenger on a first deployment."""
        y = self.codebook.encode(labels)
        a = self.codebook.encode(champion.labels)
        b = self.codebook.encode(challenger.labels)
        if not (y.size == a.size == b.size):
            raise UserInputError(
                f"labels and predictions differ in length: {y.size}, {a.size}, {b.size}"
            )
        self.joint.add(y, a, b, self.codebook.size)
        self.n += y.size
        sides = dict(zip(_SIDES, (champion, challenger), strict=True))
        matrices = {name: self._track_scores(name, sides[name]) for name in _SIDES}
        if all(m is not None for m in matrices.values()):
            self._labels.append(y.astype(np.int32))
            self._add_losses(y, matrices)

    def _track_scores(self, side: str, predictions: Predictions) -> FloatArray | None:
        if side in self._scores and self._scores[side] is None:
            return None
        universe = self.codebook.labels
        from bot.evaluation.predictions import as_probability_matrix

        converted = as_probability_matrix(predictions, universe)
        if converted is None:
            self._scores[side] = None
            self._notes.append(
                f"roc_auc and log_loss left out: the {side} gives no probabilities."
            )
            return None
        matrix, classes = converted
        state = self._scores.get(side)
        if state is None:
            positive_only = len(classes) == 2 and self.task is not Task.MULTICLASS
            state = _Scores(classes, self.codebook.encode_classes(classes), positive_only)
            self._scores[side] = state
        elif state.classes != classes:
            raise UserInputError(f"the {side}'s probability columns changed between chunks")
        if state.positive_only:
            state.chunks.append(matrix[:, _greatest(classes)].copy())
        else:
            state.chunks.append(matrix)
        return matrix

    def _add_losses(self, y: IntArray, matrices: dict[str, FloatArray | None]) -> None:
        losses = []
        for side in _SIDES:
            state, matrix = self._scores[side], matrices[side]
            assert state is not None and matrix is not None
            column_of = np.full(self.codebook.size, -1, dtype=np.int64)
            column_of[state.codes] = np.arange(state.codes.size)
            columns = column_of[y]
            if (columns < 0).any():
                self._losses = Moments(2)
                self._losses.n = -1
                return
            chosen = matrix[np.arange(y.size), columns]
            eps = np.finfo(np.float64).eps
            losses.append(-np.log(np.clip(chosen, eps, 1 - eps)))
        if self._losses.n >= 0:
            self._losses.add(np.column_stack(losses))

    def finish(self, *, seed: int, n_resamples: int) -> ClassificationResult:
        """Point values, intervals and p-values of every classification metric."""
        if self.n == 0:
            raise UserInputError("no rows to evaluate", hint="check that the data file has rows")
        order = self.codebook.sorted_order()
        joint = self.joint.reordered(order)
        k = joint.shape[0]
        task = self._resolve_task(k)
        positive = k - 1 if task is Task.BINARY else None
        champion_cm, challenger_cm = side_matrices(joint)
        before = confusion_metrics(champion_cm, positive)
        after = confusion_metrics(challenger_cm, positive)
        metrics: dict[str, MetricComparison] = {}
        deltas = (
            bootstrap_deltas(joint, positive, np.random.default_rng(seed), n_resamples)
            if self.with_champion
            else {}
        )
        for name in CONFUSION_METRICS:
            values = (float(before[name]), float(after[name]))
            metrics[name] = (
                bootstrap_comparison(
                    name,
                    values,
                    deltas[name],
                    METRIC_DIRECTIONS[name],
                    methods.bootstrap(n_resamples),
                )
                if self.with_champion
                else challenger_only(name, values[1])
            )
        notes = list(dict.fromkeys(self._notes))
        auc = self._auc(task, order, notes)
        if auc is not None:
            metrics["roc_auc"] = self._auc_comparison(task, auc)
        log_loss = self._log_loss(notes)
        if log_loss is not None:
            metrics["log_loss"] = log_loss
        return ClassificationResult(task=task, metrics=metrics, notes=notes)

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

    def _auc(self, task: Task, order: IntArray, notes: list[str]) -> PairedAuc | None:
        states = [self._scores.get(side) for side in _SIDES]
        if any(s is None for s in states) or not self._labels:
            return None
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        y = rank[np.concatenate(self._labels)]
        k = order.size
        if np.bincount(y, minlength=k).min() == 0:
            notes.append("roc_auc left out: some class never occurs among the labels.")
            return None
        scores = []
        for state in states:
            assert state is not None
            if sorted(state.codes.tolist()) != sorted(range(k)) or state.positive_only != (
                task is Task.BINARY
            ):
                notes.append("roc_auc left out: the probabilities do not cover the label classes.")
                return None
            if state.positive_only:
                scores.append(np.concatenate(state.chunks))
            else:
                columns = np.argsort(rank[state.codes])
                scores.append(np.concatenate(state.chunks)[:, columns])
        if task is Task.BINARY:
            return paired_binary_auc(scores[0], scores[1], y == k - 1)
        return paired_macro_ovr_auc(scores[0], scores[1], y)

    def _auc_comparison(self, task: Task, auc: PairedAuc) -> MetricComparison:
        if not self.with_champion:
            return challenger_only("roc_auc", auc.challenger)
        method = methods.DELONG if task is Task.BINARY else methods.DELONG_OVR
        values = (auc.champion, auc.challenger)
        return normal_comparison("roc_auc", values, auc.se, METRIC_DIRECTIONS["roc_auc"], method)

    def _log_loss(self, notes: list[str]) -> MetricComparison | None:
        moments = self._losses
        if any(self._scores.get(side) is None for side in _SIDES):
            return None
        if moments.n < 0:
            notes.append("log_loss left out: some labels have no probability column.")
            return None
        values = (float(moments.mean[0]), float(moments.mean[1]))
        if not self.with_champion:
            return challenger_only("log_loss", values[1])
        if moments.n < 2:
            notes.append("log_loss has no interval: fewer than two rows.")
        cov = moments.covariance()
        return t_comparison(
            "log_loss",
            values,
            mean_difference=values[1] - values[0],
            difference_variance=float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]),
            n=max(moments.n, 2),
            direction=METRIC_DIRECTIONS["log_loss"],
            method=methods.PAIRED_T_LOG_LOSS,
        )


def _greatest(classes: tuple[Hashable, ...]) -> int:
    """Index of the positive class: the greater label, as scikit-learn's binary metrics take it."""
    try:
        return max(range(len(classes)), key=lambda i: classes[i])  # type: ignore[arg-type,return-value]
    except TypeError as error:
        raise UserInputError(f"class labels cannot be ordered: {list(classes)}") from error
