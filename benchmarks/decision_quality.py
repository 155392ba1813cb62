"""How often is a challenger promoted when it is not better, and when it truly is?

Simulates champion/challenger pairs scored on N = 20,000 labelled rows, the
champion right on 85% of them and the two models disagreeing in correctness
on about 15% of the rows (as retrained models do):

- 1,000 pairs of equal true quality (both 85% accurate);
- 1,000 pairs where the challenger is truly one accuracy point better (86%).

Each pair goes through promobot's evaluation (`compare_predictions`, the
multinomial paired bootstrap) and the pure verdict `decide` under two
policies on accuracy:

- promobot: one-sided test at alpha = 0.05, min_absolute_change = 0;
- threshold only, as MLflow's `validate_evaluation_results` does with a
  `MetricThreshold(min_absolute_change=...)` shrunk to 0: promote when the
  challenger's accuracy is at least the champion's.

Goals: promobot promotes <= 5% of the equal challengers and >= 80% of the
better ones; the threshold-only rule promotes about half of the equal ones.

Run: .venv/bin/python benchmarks/decision_quality.py [--pairs 1000] [--rows 20000]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from bot.domain.comparison import Task
from bot.domain.policy import (
    ApprovalSection,
    CompareSection,
    Correction,
    OnRejected,
    Policy,
    PrimaryRule,
    ScheduleSection,
    VerifySection,
)
from bot.domain.verdict import Outcome, decide
from bot.evaluation import Predictions, comparison_of_predictions

BASELINE = 0.85
DISAGREEMENT = 0.15
ALPHA = 0.05


def accuracy_policy(significance: float | None) -> Policy:
    """A policy whose only rule is on accuracy: with or without the significance test."""
    return Policy(
        names=("benchmark",),
        compare=CompareSection(
            primary=PrimaryRule(
                metric="accuracy", min_absolute_change=0.0, significance=significance
            ),
            correction=Correction.NONE,
        ),
        approval=ApprovalSection(),
        schedule=ScheduleSection(),
        on_rejected=OnRejected.COMMENT,
        verify=VerifySection(),
    )


def simulate_pair(
    rng: np.random.Generator, rows: int, gain: float
) -> tuple[np.ndarray, Predictions, Predictions]:
    """Labels and two models' predictions with the given true accuracy gain."""
    only_challenger = (DISAGREEMENT + gain) / 2
    only_champion = (DISAGREEMENT - gain) / 2
    both = BASELINE - only_champion
    shares = [both, only_champion, only_challenger, 1 - both - only_champion - only_challenger]
    cell = rng.choice(4, size=rows, p=shares)
    labels = rng.integers(0, 2, size=rows)
    champion = np.where((cell == 0) | (cell == 1), labels, 1 - labels)
    challenger = np.where((cell == 0) | (cell == 2), labels, 1 - labels)
    return labels, Predictions(champion), Predictions(challenger)


def promotion_rates(
    rng: np.random.Generator, pairs: int, rows: int, gain: float, policies: dict[str, Policy]
) -> dict[str, float]:
    """Share of pairs each policy promotes."""
    promoted = dict.fromkeys(policies, 0)
    for index in range(pairs):
        labels, champion, challenger = simulate_pair(rng, rows, gain)
        comparison = comparison_of_predictions(
            Task.BINARY, labels, champion, challenger, seed=index
        )
        for name, policy in policies.items():
            promoted[name] += decide(comparison, policy).verdict is Outcome.PROMOTE
    return {name: count / pairs for name, count in promoted.items()}


def interval(rate: float, pairs: int) -> str:
    """A 95% Wilson interval of a rate estimated from `pairs` simulations."""
    z = 1.959963984540054
    centre = (rate + z * z / (2 * pairs)) / (1 + z * z / pairs)
    half = (
        z * math.sqrt(rate * (1 - rate) / pairs + z * z / (4 * pairs * pairs)) / (1 + z * z / pairs)
    )
    return f"[{centre - half:.3f}, {centre + half:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policies = {"promobot": accuracy_policy(ALPHA), "threshold-only": accuracy_policy(None)}
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    equal = promotion_rates(rng, args.pairs, args.rows, 0.0, policies)
    better = promotion_rates(rng, args.pairs, args.rows, 0.01, policies)
    elapsed = time.perf_counter() - start
    print(
        f"{args.pairs:,} pairs per scenario, N = {args.rows:,} rows, champion accuracy {BASELINE}, "
        f"disagreement {DISAGREEMENT:.0%}, alpha {ALPHA}"
    )
    print(f"{'rule':16s} {'equal: promoted':>28s} {'+1 point: promoted':>28s}")
    for name in policies:
        print(
            f"{name:16s} {equal[name]:8.1%} {interval(equal[name], args.pairs):>19s} "
            f"{better[name]:8.1%} {interval(better[name], args.pairs):>19s}"
        )
    print(
        f"goals: promobot under equality {equal['promobot']:.1%} <= 5%: "
        f"{'met' if equal['promobot'] <= 0.05 else 'MISSED'}; "
        f"power {better['promobot']:.1%} >= 80%: "
        f"{'met' if better['promobot'] >= 0.80 else 'MISSED'}"
    )
    print(
        f"ratio of false promotions, threshold-only / promobot: "
        f"{equal['threshold-only'] / max(equal['promobot'], 1 / args.pairs):.1f}"
    )
    each = elapsed / (2 * args.pairs) * 1000
    print(f"({2 * args.pairs:,} evaluations in {elapsed:.1f} s, {each:.1f} ms each)")


if __name__ == "__main__":
    main()
