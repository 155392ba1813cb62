"""The curves of an evaluation: few points, and the same numbers scikit-learn gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from bot.domain.comparison import Comparison, Provenance, Task
from bot.domain.curves import MAX_POINTS, Curves
from bot.evaluation.curves import (
    RESIDUAL_BINS,
    CurvesAccumulator,
    evaluation_curves,
    roc_points,
)
from bot.evaluation.predictions import Predictions


def scored(seed: int, rows: int, strength: float) -> tuple[np.ndarray, Predictions]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    scores = np.clip(labels * strength + rng.normal(0.5 - strength / 2, 0.25, rows), 0, 1)
    return labels, Predictions(labels=(scores > 0.5).astype(np.int64), scores=scores)


def area(curves: Curves, side: str = "challenger") -> float:
    roc = getattr(curves, side).roc
    xs = [p.false_positive_rate for p in roc]
    ys = [p.true_positive_rate for p in roc]
    return float(np.trapezoid(ys, xs))


def test_roc_curve_is_short_and_keeps_the_area() -> None:
    """A record keeps at most 50 points per curve; thinning must not change what the
    curve says: its area stays within 0.005 of scikit-learn's ROC AUC on 20,000 rows."""
    labels, challenger = scored(0, 20_000, 0.4)
    curves = evaluation_curves(Task.BINARY, labels, challenger)
    roc = curves.challenger.roc
    assert 10 < len(roc) <= MAX_POINTS
    assert (roc[0].false_positive_rate, roc[0].true_positive_rate) == (0.0, 0.0)
    assert (roc[-1].false_positive_rate, roc[-1].true_positive_rate) == (1.0, 1.0)
    assert area(curves) == pytest.approx(roc_auc_score(labels, challenger.scores), abs=0.005)


def test_calibration_bins_count_every_row_and_observe_the_labels() -> None:
    """Each bin says how many rows it holds and what share of them is positive."""
    labels, challenger = scored(1, 3_000, 0.3)
    bins = evaluation_curves(Task.BINARY, labels, challenger).challenger.calibration
    assert sum(b.count for b in bins) == 3_000
    assert challenger.scores is not None
    for b in bins:
        inside = (challenger.scores >= b.low) & (
            (challenger.scores < b.high) if b.high < 1 else (challenger.scores <= 1)
        )
        assert b.count == int(inside.sum())
        assert b.observed == pytest.approx(labels[inside].mean())
        assert b.low <= b.mean_predicted <= b.high


def test_champion_and_challenger_each_get_their_curves() -> None:
    """Both models are drawn: the champion's curve is its own, not the challenger's."""
    labels, champion = scored(2, 2_000, 0.2)
    _, challenger = scored(2, 2_000, 0.5)
    curves = evaluation_curves(Task.BINARY, labels, challenger, champion)
    assert curves.champion is not None
    assert area(curves, "champion") < area(curves, "challenger")


def test_string_labels_take_the_greater_class_as_positive() -> None:
    """As scikit-learn does: with labels `no`/`yes`, `yes` is the positive class."""
    labels = np.array(["no", "yes"] * 50)
    scores = np.where(labels == "yes", 0.9, 0.1)
    predictions = Predictions(labels=np.where(scores > 0.5, "yes", "no"), scores=scores)
    assert area(evaluation_curves(Task.BINARY, labels, predictions)) == pytest.approx(1.0)


def test_without_probabilities_there_is_no_roc_and_a_note_says_so() -> None:
    """A model that only predicts classes has no ROC curve; the record says why."""
    labels = np.array([0, 1] * 20)
    curves = evaluation_curves(Task.BINARY, labels, Predictions(labels=labels))
    assert curves.challenger.roc == ()
    assert any("no probabilities" in note for note in curves.notes)


def test_per_class_scores_match_scikit_learn() -> None:
    """Multiclass bars are precision, recall and F1 per class, as scikit-learn computes them."""
    rng = np.random.default_rng(3)
    labels = rng.choice(["a", "b", "c", "d"], 1_000)
    guess = np.where(rng.random(1_000) < 0.6, labels, rng.choice(["a", "b", "c", "d"], 1_000))
    scores = evaluation_curves(Task.MULTICLASS, labels, Predictions(labels=guess)).challenger
    names = [s.label for s in scores.classes]
    precision, recall, f1, support = precision_recall_fscore_support(labels, guess, labels=names)
    assert [s.precision for s in scores.classes] == pytest.approx(list(precision))
    assert [s.recall for s in scores.classes] == pytest.approx(list(recall))
    assert [s.f1 for s in scores.classes] == pytest.approx(list(f1))
    assert [s.support for s in scores.classes] == list(support)
    assert names == sorted(names, key=lambda n: -int((labels == n).sum()))


def test_many_classes_keep_the_fifty_largest_with_a_note() -> None:
    """A record stays small: beyond 50 classes only the largest are kept, and noted."""
    labels = np.repeat([f"c{i:03d}" for i in range(60)], np.arange(60) + 1)
    curves = evaluation_curves(Task.MULTICLASS, labels, Predictions(labels=labels))
    assert len(curves.challenger.classes) == MAX_POINTS
    assert curves.challenger.classes[0].label == "c059"
    assert any("60 classes" in note for note in curves.notes)


def test_residuals_share_their_bins_and_count_every_row() -> None:
    """Both regressors' histograms use the same bins, so they compare bar by bar; outliers
    fall in the end bins rather than stretching the picture."""
    rng = np.random.default_rng(4)
    truth = rng.normal(50, 10, 2_000)
    wide = truth + rng.normal(0, 5, 2_000)
    wide[0] = 10_000.0
    curves = evaluation_curves(
        Task.REGRESSION,
        truth,
        Predictions(labels=truth + rng.normal(0, 1, 2_000)),
        Predictions(labels=wide),
    )
    assert curves.champion is not None
    mine, theirs = curves.challenger.residuals, curves.champion.residuals
    assert len(mine) == len(theirs) == RESIDUAL_BINS
    assert [(b.low, b.high) for b in mine] == [(b.low, b.high) for b in theirs]
    assert sum(b.count for b in mine) == sum(b.count for b in theirs) == 2_000
    assert mine[-1].high < 100


def test_chunks_give_the_same_curves_as_all_rows_at_once() -> None:
    """The evaluation streams chunks; the accumulator must not change a single number."""
    labels, champion = scored(5, 5_000, 0.3)
    _, challenger = scored(6, 5_000, 0.4)
    accumulator = CurvesAccumulator()
    for start in range(0, 5_000, 1_000):
        part = slice(start, start + 1_000)
        accumulator.add(
            labels[part],
            Predictions(labels=champion.labels[part], scores=champion.scores[part]),  # type: ignore[index]
            Predictions(labels=challenger.labels[part], scores=challenger.scores[part]),  # type: ignore[index]
        )
    assert accumulator.finish(Task.BINARY) == evaluation_curves(
        Task.BINARY, labels, challenger, champion
    )
    assert CurvesAccumulator().finish(Task.BINARY) is None


def test_curves_travel_in_the_comparison_of_a_record() -> None:
    """The board reads curves from committed records: they survive JSON both ways."""
    labels, challenger = scored(7, 500, 0.4)
    comparison = Comparison(
        task=Task.BINARY,
        n=500,
        metrics={},
        provenance=Provenance(code_version="test"),
        curves=evaluation_curves(Task.BINARY, labels, challenger),
    )
    assert Comparison.model_validate_json(comparison.model_dump_json()) == comparison


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=2, max_size=400).filter(
        lambda rows: len({hit for hit, _ in rows}) == 2
    )
)
def test_any_roc_curve_climbs_from_corner_to_corner(rows: list[tuple[bool, float]]) -> None:
    """Whatever the scores, the kept points rise monotonically from (0, 0) to (1, 1)."""
    hits = np.array([hit for hit, _ in rows])
    scores = np.array([score for _, score in rows])
    points = roc_points(hits, scores)
    assert len(points) <= MAX_POINTS
    xs = [p.false_positive_rate for p in points]
    ys = [p.true_positive_rate for p in points]
    assert (xs[0], ys[0], xs[-1], ys[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert xs == sorted(xs) and ys == sorted(ys)
