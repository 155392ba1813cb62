"""ROC AUC of two models on the same rows, with DeLong's paired variance.

DeLong, DeLong and Clarke-Pearson (1988) write the AUC as the mean of
"placement values": for a positive row, the share of negatives it outranks
(ties count one half), and for a negative row the share of positives that
outrank it. The variance of the paired difference follows from the spread of
the per-row placement differences. One sort per model gives every placement
(Sun and Xu, 2014), so the cost is O(N log N).

For more than two classes promobot reports the macro average of the
one-vs-rest AUCs (scikit-learn's `multi_class="ovr", average="macro"`). Its
variance uses the same placement values: every row contributes to each
class's AUC (as a positive of its own class, a negative of the others), the
per-row contributions are summed, and their variance is taken within each
true class, which is exactly DeLong's formula when there are two classes.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.evaluation.predictions import FloatArray

_PARALLEL_FROM = 100_000
"""Rows from which sorting the two models' scores in two threads pays for the threads."""


@dataclass(frozen=True)
class PairedAuc:
    """Both models' AUC and the standard error of their difference."""

    champion: float
    challenger: float
    se: float


def placements(scores: FloatArray, positive: npt.NDArray[np.bool_]) -> tuple[float, FloatArray]:
    """AUC and each row's placement value (positives against negatives and vice versa)."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    order = np.argsort(scores)
    ranked = scores[order]
    is_pos = positive[order]
    new_block = np.empty(ranked.size, dtype=bool)
    new_block[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=new_block[1:])
    block = np.cumsum(new_block) - 1
    starts = np.flatnonzero(new_block)
    pos_in_block = np.add.reduceat(is_pos.astype(np.float64), starts)
    neg_in_block = np.diff(np.append(starts, ranked.size)) - pos_in_block
    neg_below = np.cumsum(neg_in_block) - neg_in_block
    pos_above = n_pos - np.cumsum(pos_in_block)
    against_neg = (neg_below + 0.5 * neg_in_block)[block] / n_neg
    against_pos = (pos_above + 0.5 * pos_in_block)[block] / n_pos
    placed = np.empty(ranked.size)
    placed[order] = np.where(is_pos, against_neg, against_pos)
    auc = float(placed[positive].mean())
    return auc, placed


def _both_placements(
    champion: FloatArray, challenger: FloatArray, positive: npt.NDArray[np.bool_]
) -> list[tuple[float, FloatArray]]:
    """Placements of both models; numpy sorts without the GIL, so two threads use two cores."""
    if champion.size < _PARALLEL_FROM:
        return [placements(champion, positive), placements(challenger, positive)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda scores: placements(scores, positive), (champion, challenger)))


def paired_binary_auc(
    champion: FloatArray, challenger: FloatArray, positive: npt.NDArray[np.bool_]
) -> PairedAuc:
    """DeLong's test for two correlated AUCs."""
    (auc_a, placed_a), (auc_b, placed_b) = _both_placements(champion, challenger, positive)
    difference = placed_b - placed_a
    variance = 0.0
    for group in (positive, ~positive):
        values = difference[group]
        variance += float(values.var(ddof=1)) / values.size if values.size > 1 else 0.0
    return PairedAuc(champion=auc_a, challenger=auc_b, se=math.sqrt(variance))


def paired_macro_ovr_auc(
    champion: FloatArray, challenger: FloatArray, labels: npt.NDArray[np.int64]
) -> PairedAuc:
    """Macro one-vs-rest AUC of `(n, k)` probability matrices, labels coded 0..k-1."""
    k = champion.shape[1]
    influence = np.zeros(labels.size)
    aucs = np.zeros((2, k))
    for cls in range(k):
        positive = labels == cls
        (aucs[0, cls], placed_a), (aucs[1, cls], placed_b) = _both_placements(
            champion[:, cls], challenger[:, cls], positive
        )
        group_size = np.where(positive, positive.sum(), labels.size - positive.sum())
        influence += (placed_b - placed_a) / group_size
    influence /= k
    variance = 0.0
    for cls in range(k):
        values = influence[labels == cls]
        if values.size > 1:
            variance += float(values.var(ddof=1)) * values.size
    return PairedAuc(
        champion=float(aucs[0].mean()), challenger=float(aucs[1].mean()), se=math.sqrt(variance)
    )
