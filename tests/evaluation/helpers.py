"""Synthetic paired predictions with keyword overrides, shared by the evaluation tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.evaluation import Predictions


@dataclass(frozen=True)
class Pair:
    """Labels and two models' predictions on the same rows."""

    y: np.ndarray
    champion: Predictions
    challenger: Predictions


def _probabilities(rng: np.random.Generator, y: np.ndarray, k: int, skill: float) -> np.ndarray:
    """Dirichlet noise pulled towards the true class by `skill`, rows summing to one."""
    noise = rng.dirichlet(np.ones(k), size=y.size)
    noise[np.arange(y.size), y] += skill
    return noise / noise.sum(axis=1, keepdims=True)


def make_classification_pair(
    *,
    n: int = 500,
    k: int = 2,
    seed: int = 0,
    champion_skill: float = 0.4,
    challenger_skill: float = 0.6,
    decimals: int | None = None,
    with_scores: bool = True,
) -> Pair:
    """Two probabilistic classifiers; `decimals` rounds the scores to create ties."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(k), rng.integers(0, k, size=n - k)])
    sides = []
    for skill in (champion_skill, challenger_skill):
        scores = _probabilities(rng, y, k, skill)
        if decimals is not None:
            # Probabilities on a coarse grid that still sum to one: many ties across rows.
            grid = 10**decimals
            scores = np.array([rng.multinomial(grid, row) for row in scores]) / grid
        labels = scores.argmax(axis=1)
        kept = (scores[:, 1] if k == 2 else scores) if with_scores else None
        sides.append(Predictions(labels, kept, tuple(range(k)) if with_scores else None))
    return Pair(y, sides[0], sides[1])


def make_regression_pair(
    *, n: int = 500, seed: int = 0, champion_noise: float = 1.0, challenger_noise: float = 0.9
) -> Pair:
    """Two regressors whose errors are Gaussian with the given spreads."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 3
    champion = y + rng.normal(scale=champion_noise, size=n)
    challenger = y + rng.normal(scale=challenger_noise, size=n)
    return Pair(y, Predictions(champion), Predictions(challenger))


def correctness_pair(
    rng: np.random.Generator, n: int, champion_accuracy: float, gain: float, disagreement: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary labels and predictions whose correctness differs on a share of rows.

    Among the `disagreement` share of rows exactly one model is right; the
    challenger is right on a share (disagreement + gain) / 2 of all rows more
    than both-right rows, so its true accuracy is champion_accuracy + gain.
    """
    only_challenger = (disagreement + gain) / 2
    only_champion = (disagreement - gain) / 2
    both = champion_accuracy - only_champion
    shares = [both, only_champion, only_challenger, 1 - both - only_champion - only_challenger]
    cell = rng.choice(4, size=n, p=shares)
    y = rng.integers(0, 2, size=n)
    champion_right = (cell == 0) | (cell == 1)
    challenger_right = (cell == 0) | (cell == 2)
    return y, np.where(champion_right, y, 1 - y), np.where(challenger_right, y, 1 - y)
