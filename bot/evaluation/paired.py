"""Paired statistics shared by every metric: streaming moments and interval results.

Every result carries a two-sided 95% interval of `delta` (challenger - champion)
and a one-sided p-value of "the challenger is not better", where better follows
the metric's direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# The t and normal distributions through scipy.special, which `scipy.stats` itself calls
# (`stats.t.ppf` is `special.stdtrit`, `stats.norm.sf` is `special.ndtr` of minus x):
# the same numbers, without importing scipy.stats (about a second of start-up).
from scipy import special

from bot.domain.comparison import Direction, MetricComparison
from bot.evaluation.predictions import FloatArray

CONFIDENCE = 0.95


@dataclass
class Moments:
    """Count, means and co-moments of a few columns, merged chunk by chunk.

    Chan's parallel update keeps the result as accurate as a single pass over
    all rows while memory stays at O(columns^2), however many rows stream by.
    """

    width: int
    n: int = 0
    mean: FloatArray = field(init=False)
    comoment: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.mean = np.zeros(self.width)
        self.comoment = np.zeros((self.width, self.width))

    def add(self, columns: FloatArray) -> None:
        """Fold an `(n, width)` block of rows into the moments."""
        n_chunk = columns.shape[0]
        if n_chunk == 0:
            return
        chunk_mean = columns.mean(axis=0)
        centred = columns - chunk_mean
        # einsum rather than `centred.T @ centred`: a BLAS call this long wakes every BLAS
        # thread, which then spin while the models predict the next chunk on the same cores.
        chunk_comoment = np.einsum("ij,ik->jk", centred, centred)
        total = self.n + n_chunk
        shift = chunk_mean - self.mean
        self.mean = self.mean + shift * (n_chunk / total)
        self.comoment = (
            self.comoment + chunk_comoment + np.outer(shift, shift) * (self.n * n_chunk / total)
        )
        self.n = total

    def covariance(self) -> FloatArray:
        """Sample covariance matrix (divisor n - 1)."""
        return self.comoment / max(self.n - 1, 1)


class PairedMoments:
    """Streaming moments of a per-row value for both models and of its paired difference.

    The difference is folded in as its own column, so that identical or
    nearly identical models get an exact (or accurate) spread instead of the
    cancellation in var(a) + var(b) - 2 cov(a, b).
    """

    def __init__(self) -> None:
        self._moments = Moments(3)

    def add(self, champion: FloatArray, challenger: FloatArray) -> None:
        """Fold in one chunk of per-row values of both models."""
        self._moments.add(np.column_stack([champion, challenger, challenger - champion]))

    @property
    def n(self) -> int:
        """Rows folded in."""
        return self._moments.n

    @property
    def means(self) -> tuple[float, float]:
        """Mean of the champion's values and of the challenger's."""
        return float(self._moments.mean[0]), float(self._moments.mean[1])

    @property
    def difference_mean(self) -> float:
        """Mean of challenger - champion."""
        return float(self._moments.mean[2])

    @property
    def difference_variance(self) -> float:
        """Sample variance of challenger - champion."""
        return float(self._moments.covariance()[2, 2])

    def linear_se(self, champion_weight: float, challenger_weight: float) -> float:
        """Standard error of `champion_weight * mean(a) + challenger_weight * mean(b)`.

        Written as (w_a + w_b) * a + w_b * (b - a), which is exact for equal models.
        """
        cov = self._moments.covariance()
        weights = np.array([champion_weight + challenger_weight, challenger_weight])
        block = cov[np.ix_([0, 2], [0, 2])]
        return math.sqrt(max(float(weights @ block @ weights), 0.0) / max(self.n, 1))


def _sign(direction: Direction) -> float:
    return 1.0 if direction is Direction.MAXIMIZE else -1.0


def degenerate_p_value(delta: float, direction: Direction) -> float:
    """p-value when the delta has no spread: certain either way, and 1 for no change."""
    return 0.0 if _sign(direction) * delta > 0 else 1.0


def t_comparison(
    name: str,
    values: tuple[float, float],
    *,
    mean_difference: float,
    difference_variance: float,
    n: int,
    direction: Direction,
    method: str,
    scale: float = 1.0,
) -> MetricComparison:
    """Paired t on per-row differences; `scale` maps the mean difference to the metric's delta."""
    champion, challenger = values
    delta = challenger - champion
    se = math.sqrt(max(difference_variance, 0.0) / n) * abs(scale)
    centre = mean_difference * scale
    if se == 0.0:
        return _result(name, values, (centre, centre), degenerate_p_value(delta, direction), method)
    quantile = float(special.stdtrit(n - 1, 0.5 + CONFIDENCE / 2))
    t_statistic = _sign(direction) * centre / se
    p_value = float(special.stdtr(n - 1, -t_statistic))
    return _result(name, values, (centre - quantile * se, centre + quantile * se), p_value, method)


def normal_comparison(
    name: str,
    values: tuple[float, float],
    se: float,
    direction: Direction,
    method: str,
) -> MetricComparison:
    """Asymptotically normal delta with standard error `se` (DeLong, delta method)."""
    delta = values[1] - values[0]
    if not se > 0.0:
        return _result(name, values, (delta, delta), degenerate_p_value(delta, direction), method)
    quantile = float(special.ndtri(0.5 + CONFIDENCE / 2))
    p_value = float(special.ndtr(-_sign(direction) * delta / se))
    return _result(name, values, (delta - quantile * se, delta + quantile * se), p_value, method)


def bootstrap_comparison(
    name: str,
    values: tuple[float, float],
    resampled_deltas: FloatArray,
    direction: Direction,
    method: str,
) -> MetricComparison:
    """Percentile interval and the share of resamples in which the challenger is not better."""
    tail = (1.0 - CONFIDENCE) / 2
    low, high = np.quantile(resampled_deltas, [tail, 1.0 - tail])
    not_better = int(np.count_nonzero(_sign(direction) * resampled_deltas <= 0.0))
    p_value = (1 + not_better) / (1 + resampled_deltas.size)
    return _result(name, values, (float(low), float(high)), p_value, method)


def _result(
    name: str,
    values: tuple[float, float],
    interval: tuple[float, float],
    p_value: float,
    method: str,
) -> MetricComparison:
    champion, challenger = (float(v) for v in values)
    return MetricComparison(
        name=name,
        champion=champion,
        challenger=challenger,
        delta=challenger - champion,
        ci_low=float(interval[0]),
        ci_high=float(interval[1]),
        p_value=min(max(float(p_value), 0.0), 1.0),
        method=method,
    )


def challenger_only(name: str, value: float) -> MetricComparison:
    """A metric of a first deployment: nothing to compare against."""
    return MetricComparison(name=name, champion=None, challenger=float(value), delta=None)


def values_only(name: str, values: tuple[float, float]) -> MetricComparison:
    """Both values and their delta, without an interval (too few rows for one)."""
    champion, challenger = (float(v) for v in values)
    return MetricComparison(
        name=name, champion=champion, challenger=challenger, delta=challenger - champion
    )
