"""The curves of an evaluation, from the rows both models scored: pure functions on arrays.

`evaluation_curves(task, labels, challenger, champion)` gives each model's ROC and
calibration curves (binary), per-class precision, recall and F1 (multiclass) or a
histogram of residuals on bins both share (regression), each cut to at most
`MAX_POINTS` points so that a decision record stays small. `CurvesAccumulator` keeps
the chunks of a streamed evaluation and computes the same at the end.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

import numpy as np
import numpy.typing as npt

from bot.domain.comparison import Task
from bot.domain.curves import (
    MAX_POINTS,
    CalibrationBin,
    ClassScore,
    Curves,
    ModelCurves,
    ResidualBin,
    RocPoint,
)
from bot.evaluation.predictions import Codebook, FloatArray, Predictions, as_probability_matrix

CALIBRATION_BINS = 10
RESIDUAL_BINS = 20
RESIDUAL_RANGE = (1.0, 99.0)
"""Residual bins span these percentiles of both models' residuals; the end bins hold the rest."""


def evaluation_curves(
    task: Task,
    labels: npt.ArrayLike,
    challenger: Predictions,
    champion: Predictions | None = None,
) -> Curves:
    """Both models' curves for `task` on the same rows (`labels` are the true values)."""
    truth = np.asarray(labels)
    notes: list[str] = []
    match task:
        case Task.BINARY:
            universe = _universe(truth, challenger, champion)
            sides = [
                _binary(truth, p, universe, role, notes) for role, p in _sides(challenger, champion)
            ]
        case Task.MULTICLASS:
            sides = _multiclass(truth, challenger, champion, notes)
        case Task.REGRESSION:
            sides = _regression(truth, challenger, champion)
        case unreachable:
            assert_never(unreachable)
    return Curves(
        champion=sides[1] if champion is not None else None,
        challenger=sides[0],
        notes=tuple(dict.fromkeys(notes)),
    )


def _sides(challenger: Predictions, champion: Predictions | None) -> list[tuple[str, Predictions]]:
    return [("challenger", challenger)] + ([] if champion is None else [("champion", champion)])


# ----- binary -----------------------------------------------------------------------------


def _universe(
    truth: npt.NDArray[Any], challenger: Predictions, champion: Predictions | None
) -> list[Hashable]:
    """Every class among the labels and the predictions, sorted as scikit-learn sorts them."""
    values: set[Hashable] = set()
    for array in (truth, challenger.labels, None if champion is None else champion.labels):
        if array is not None:
            values.update(_plain(v) for v in np.unique(np.asarray(array)))
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:
        return sorted(values, key=str)


def _binary(
    truth: npt.NDArray[Any],
    predictions: Predictions,
    universe: Sequence[Hashable],
    role: str,
    notes: list[str],
) -> ModelCurves:
    matrix = as_probability_matrix(predictions, universe) if len(universe) == 2 else None
    if matrix is None:
        notes.append(f"the {role} gives no probabilities of two classes: no ROC or calibration")
        return ModelCurves()
    scores, classes = matrix
    positive = universe[-1]
    column = [_plain(c) for c in classes].index(positive)
    probability = np.clip(scores[:, column], 0.0, 1.0)
    is_positive = np.asarray(truth == positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        notes.append("the labels hold one class only: no ROC curve")
        return ModelCurves(calibration=calibration_bins(is_positive, probability))
    return ModelCurves(
        roc=roc_points(is_positive, probability),
        calibration=calibration_bins(is_positive, probability),
    )


def roc_points(is_positive: npt.NDArray[np.bool_], scores: FloatArray) -> tuple[RocPoint, ...]:
    """The ROC curve's corners, thinned to at most `MAX_POINTS` evenly along its length."""
    order = np.argsort(-scores, kind="mergesort")
    ordered, hits = scores[order], is_positive[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(ordered)), ordered.size - 1]
    true_positives = np.cumsum(hits)[last_of_threshold]
    false_positives = last_of_threshold + 1 - true_positives
    tpr = np.r_[0.0, true_positives / hits.sum()]
    fpr = np.r_[0.0, false_positives / (hits.size - hits.sum())]
    corners = _corners(fpr, tpr)
    keep = _thinned(fpr[corners], tpr[corners], corners)
    return tuple(
        RocPoint(false_positive_rate=float(fpr[i]), true_positive_rate=float(tpr[i])) for i in keep
    )


def _corners(x: FloatArray, y: FloatArray) -> npt.NDArray[np.intp]:
    """Indices of the points where the curve turns: a straight run keeps only its ends."""
    if x.size <= 2:
        return np.arange(x.size, dtype=np.intp)
    dx, dy = np.diff(x), np.diff(y)
    cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
    turns = np.flatnonzero(np.abs(cross) > 1e-12) + 1
    kept: npt.NDArray[np.intp] = np.r_[0, turns, x.size - 1].astype(np.intp)
    return kept


def _thinned(x: FloatArray, y: FloatArray, indices: npt.NDArray[np.intp]) -> list[int]:
    """At most `MAX_POINTS` of `indices`, spread evenly along the curve, both ends kept."""
    if indices.size <= MAX_POINTS:
        return [int(i) for i in indices]
    length = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
    wanted = np.linspace(0.0, length[-1], MAX_POINTS)
    chosen = np.unique(np.searchsorted(length, wanted).clip(0, indices.size - 1))
    return [int(indices[i]) for i in chosen]


def calibration_bins(
    is_positive: npt.NDArray[np.bool_], probability: FloatArray
) -> tuple[CalibrationBin, ...]:
    """Observed share of positives per bin of predicted probability (empty bins left out)."""
    which = np.clip(
        np.floor(probability * CALIBRATION_BINS).astype(np.int64), 0, CALIBRATION_BINS - 1
    )
    counts = np.bincount(which, minlength=CALIBRATION_BINS)
    predicted = np.bincount(which, weights=probability, minlength=CALIBRATION_BINS)
    positives = np.bincount(
        which, weights=is_positive.astype(np.float64), minlength=CALIBRATION_BINS
    )
    return tuple(
        CalibrationBin(
            low=index / CALIBRATION_BINS,
            high=(index + 1) / CALIBRATION_BINS,
            mean_predicted=float(np.clip(predicted[index] / counts[index], 0.0, 1.0)),
            observed=float(positives[index] / counts[index]),
            count=int(counts[index]),
        )
        for index in range(CALIBRATION_BINS)
        if counts[index] > 0
    )


# ----- multiclass ------------------------------------------------------------------------


def _multiclass(
    truth: npt.NDArray[Any],
    challenger: Predictions,
    champion: Predictions | None,
    notes: list[str],
) -> list[ModelCurves]:
    book = Codebook()
    codes = book.encode(truth)
    predicted = [book.encode(np.asarray(p.labels)) for _, p in _sides(challenger, champion)]
    support = np.bincount(codes, minlength=book.size)
    order = sorted(range(book.size), key=lambda c: (-int(support[c]), str(book.labels[c])))
    if len(order) > MAX_POINTS:
        notes.append(
            f"{len(order)} classes: the {MAX_POINTS} with the most rows are shown, not the rest"
        )
        order = order[:MAX_POINTS]
    return [
        ModelCurves(
            classes=tuple(_class_score(codes, guess, c, str(book.labels[c])) for c in order)
        )
        for guess in predicted
    ]


def _class_score(
    codes: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64], code: int, label: str
) -> ClassScore:
    actual, guessed = codes == code, predicted == code
    hits = int(np.sum(actual & guessed))
    precision = hits / int(guessed.sum()) if guessed.any() else 0.0
    recall = hits / int(actual.sum()) if actual.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return ClassScore(
        label=label, precision=precision, recall=recall, f1=f1, support=int(actual.sum())
    )


# ----- regression ------------------------------------------------------------------------


def _regression(
    truth: npt.NDArray[Any], challenger: Predictions, champion: Predictions | None
) -> list[ModelCurves]:
    actual = truth.astype(np.float64)
    residuals = [
        np.asarray(p.labels, dtype=np.float64) - actual for _, p in _sides(challenger, champion)
    ]
    finite = [r[np.isfinite(r)] for r in residuals]
    edges = residual_edges(np.concatenate(finite))
    return [ModelCurves(residuals=residual_histogram(r, edges)) for r in finite]


def residual_edges(pooled: FloatArray) -> FloatArray:
    """`RESIDUAL_BINS` equal bins over the middle of the residuals (1st to 99th percentile)."""
    if pooled.size == 0:
        return np.linspace(-1.0, 1.0, RESIDUAL_BINS + 1)
    low, high = (float(v) for v in np.percentile(pooled, RESIDUAL_RANGE))
    if high - low <= 1e-9 * max(1.0, abs(low)):
        spread = max(abs(low) * 0.1, 0.5)
        low, high = low - spread, high + spread
    return np.linspace(low, high, RESIDUAL_BINS + 1)


def residual_histogram(residuals: FloatArray, edges: FloatArray) -> tuple[ResidualBin, ...]:
    """Rows per bin; values beyond the ends count in the end bins."""
    inner = np.clip(residuals, edges[0], edges[-1])
    counts, _ = np.histogram(inner, bins=edges)
    return tuple(
        ResidualBin(low=float(edges[i]), high=float(edges[i + 1]), count=int(counts[i]))
        for i in range(counts.size)
    )


# ----- streaming -------------------------------------------------------------------------


@dataclass
class CurvesAccumulator:
    """Keeps the chunks of a streamed evaluation; `finish` computes the curves on all rows.

    It holds the labels and both models' outputs (about 24 bytes a row for a binary task,
    as the classification metrics' own ROC AUC keeps).
    """

    labels: list[npt.NDArray[Any]] = field(default_factory=list)
    challenger: list[Predictions] = field(default_factory=list)
    champion: list[Predictions] = field(default_factory=list)

    def add(
        self, labels: npt.ArrayLike, champion: Predictions | None, challenger: Predictions
    ) -> None:
        """One chunk of rows and both models' predictions for them."""
        self.labels.append(np.asarray(labels))
        self.challenger.append(challenger)
        if champion is not None:
            self.champion.append(champion)

    def finish(self, task: Task) -> Curves | None:
        """The curves of every row added; None when no row was."""
        if not self.labels:
            return None
        champion = _joined(self.champion) if self.champion else None
        return evaluation_curves(
            task, np.concatenate(self.labels), _joined(self.challenger), champion
        )


def _joined(chunks: Sequence[Predictions]) -> Predictions:
    scores = [c.scores for c in chunks]
    return Predictions(
        labels=np.concatenate([np.asarray(c.labels) for c in chunks]),
        scores=None if any(s is None for s in scores) else np.concatenate(scores),  # type: ignore[arg-type]
        classes=chunks[0].classes,
    )


def _plain(value: Any) -> Hashable:
    return value.item() if isinstance(value, np.generic) else value  # type: ignore[no-any-return]
