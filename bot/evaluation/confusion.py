"""Confusion-matrix metrics and their multinomial paired bootstrap.

Accuracy, precision, recall and f1 of both models depend on the rows only
through the joint counts of (label, champion's prediction, challenger's
prediction). Resampling N rows with replacement is therefore the same as
drawing multinomial counts over those k^3 cells with the observed shares, so
each resample costs O(k^3) instead of O(N), and the counts are all a stream
needs to keep.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse

from bot.evaluation.predictions import FloatArray, IntArray

CONFUSION_METRICS = ("accuracy", "precision", "recall", "f1")
_RESAMPLES_PER_BLOCK = 256


class JointCounts:
    """Counts of (label, champion prediction, challenger prediction) codes, growing with k."""

    def __init__(self) -> None:
        self.counts: npt.NDArray[np.int64] = np.zeros((0, 0, 0), dtype=np.int64)

    def grow(self, size: int) -> None:
        """Make room for codes up to `size` - 1 (labels seen only among a model's classes)."""
        if size > self.counts.shape[0]:
            grown = np.zeros((size, size, size), dtype=np.int64)
            k = self.counts.shape[0]
            grown[:k, :k, :k] = self.counts
            self.counts = grown

    def add(self, labels: IntArray, champion: IntArray, challenger: IntArray, size: int) -> None:
        """Count one chunk; `size` is the number of distinct codes seen so far."""
        self.grow(size)
        flat = (labels * size + champion) * size + challenger
        self.counts += np.bincount(flat, minlength=size**3).reshape(size, size, size)

    def reordered(self, order: IntArray) -> npt.NDArray[np.int64]:
        """The counts with every axis permuted to `order` (codes in sorted-label order)."""
        return self.counts[np.ix_(order, order, order)]


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def confusion_metrics(
    matrices: npt.NDArray[np.int64], positive: int | None
) -> dict[str, FloatArray]:
    """Metrics of confusion matrices `[..., true, predicted]`, vectorised over leading axes.

    `positive` is the index of the positive class of a binary task; None means
    macro averages over the classes that occur as label or prediction, which is
    the set of labels scikit-learn averages over.
    """
    cm = matrices.astype(np.float64)
    true_positives = np.diagonal(cm, axis1=-2, axis2=-1)
    actual = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    metrics = {"accuracy": _divide(true_positives.sum(axis=-1), actual.sum(axis=-1))}
    per_class = {
        "precision": _divide(true_positives, predicted),
        "recall": _divide(true_positives, actual),
        "f1": _divide(2.0 * true_positives, actual + predicted),
    }
    if positive is not None:
        metrics.update({name: values[..., positive] for name, values in per_class.items()})
        return metrics
    present = (actual + predicted) > 0
    n_present = present.sum(axis=-1)
    for name, values in per_class.items():
        metrics[name] = _divide(np.where(present, values, 0.0).sum(axis=-1), n_present)
    return metrics


def side_matrices(joint: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Confusion matrices of the champion and the challenger from the joint counts."""
    return joint.sum(axis=2), joint.sum(axis=1)


def bootstrap_deltas(
    joint: npt.NDArray[np.int64],
    positive: int | None,
    rng: np.random.Generator,
    n_resamples: int,
) -> dict[str, FloatArray]:
    """challenger - champion for every metric in `n_resamples` multinomial resamples."""
    k = joint.shape[0]
    flat = joint.ravel()
    cells = np.flatnonzero(flat)
    n = int(flat.sum())
    shares = flat[cells] / n
    label, champion, challenger = np.unravel_index(cells, joint.shape)
    ones = np.ones(cells.size)
    rows = np.arange(cells.size)
    to_champion = sparse.csr_array((ones, (rows, label * k + champion)), shape=(cells.size, k * k))
    to_challenger = sparse.csr_array(
        (ones, (rows, label * k + challenger)), shape=(cells.size, k * k)
    )
    blocks: dict[str, list[FloatArray]] = {name: [] for name in CONFUSION_METRICS}
    done = 0
    while done < n_resamples:
        size = min(_RESAMPLES_PER_BLOCK, n_resamples - done)
        draws = rng.multinomial(n, shares, size=size).astype(np.float64)
        champion_cm = (to_champion.T @ draws.T).T.reshape(size, k, k)
        challenger_cm = (to_challenger.T @ draws.T).T.reshape(size, k, k)
        before = confusion_metrics(champion_cm, positive)
        after = confusion_metrics(challenger_cm, positive)
        for name in CONFUSION_METRICS:
            blocks[name].append(after[name] - before[name])
        done += size
    return {name: np.concatenate(parts) for name, parts in blocks.items()}
