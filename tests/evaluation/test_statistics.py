"""The paired statistics: DeLong against its definition, the bootstrap, calibration and coverage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from bot.domain.comparison import MetricComparison, Task
from bot.errors import UserInputError
from bot.evaluation import Predictions, compare_predictions, evaluate_predictions
from bot.evaluation.confusion import bootstrap_deltas
from bot.evaluation.delong import paired_binary_auc, paired_macro_ovr_auc
from tests.evaluation.helpers import (
    correctness_pair,
    make_classification_pair,
    make_regression_pair,
)


def brute_force_delong(
    champion: np.ndarray, challenger: np.ndarray, positive: np.ndarray
) -> tuple[float, float, float]:
    """DeLong et al. (1988) written out with the O(m n) comparison matrix."""
    components = []
    aucs = []
    for scores in (champion, challenger):
        x, y = scores[positive][:, None], scores[~positive][None, :]
        psi = (x > y) + 0.5 * (x == y)
        aucs.append(psi.mean())
        components.append((psi.mean(axis=1), psi.mean(axis=0)))
    s10 = np.cov(np.vstack([components[0][0], components[1][0]]))
    s01 = np.cov(np.vstack([components[0][1], components[1][1]]))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / positive.sum() + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / (~positive).sum()
    return aucs[0], aucs[1], float(np.sqrt(variance))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=4, max_value=150),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    decimals=st.sampled_from([None, 1, 2]),
)
def test_delong_equals_its_definition(n: int, seed: int, decimals: int | None) -> None:
    """The one-sort placement values give DeLong's AUCs and variance exactly, ties included."""
    pair = make_classification_pair(n=n, seed=seed, decimals=decimals)
    assert pair.champion.scores is not None
    assert pair.challenger.scores is not None
    positive = pair.y == 1
    assume(2 <= positive.sum() <= n - 2)
    fast = paired_binary_auc(pair.champion.scores, pair.challenger.scores, positive)
    auc_a, auc_b, se = brute_force_delong(pair.champion.scores, pair.challenger.scores, positive)
    assert fast.champion == pytest.approx(auc_a, abs=1e-12)
    assert fast.challenger == pytest.approx(auc_b, abs=1e-12)
    assert fast.se == pytest.approx(se, rel=1e-9, abs=1e-12)


def test_macro_ovr_variance_is_delong_for_two_classes() -> None:
    """The multiclass generalisation reduces to DeLong's formula when k = 2."""
    pair = make_classification_pair(n=300, seed=3, decimals=2)
    assert pair.champion.scores is not None
    assert pair.challenger.scores is not None
    a, b = pair.champion.scores, pair.challenger.scores
    binary = paired_binary_auc(a, b, pair.y == 1)
    macro = paired_macro_ovr_auc(np.column_stack([1 - a, a]), np.column_stack([1 - b, b]), pair.y)
    assert macro.champion == pytest.approx(binary.champion, abs=1e-12)
    assert macro.se == pytest.approx(binary.se, rel=1e-9)


def test_macro_ovr_auc_equals_its_definition_with_ties() -> None:
    """Three classes, coarse probabilities: the one-sort path equals the O(n^2) definition."""
    pair = make_classification_pair(n=240, k=3, seed=9, decimals=1)
    a, b, y = pair.champion.scores, pair.challenger.scores, pair.y
    assert a is not None
    assert b is not None
    influence = np.zeros(y.size)
    aucs = np.zeros((2, 3))
    for cls in range(3):
        positive = y == cls
        for side, scores in enumerate((a[:, cls], b[:, cls])):
            x, z = scores[positive][:, None], scores[~positive][None, :]
            psi = (x > z) + 0.5 * (x == z)
            aucs[side, cls] = psi.mean()
            placed = np.empty(y.size)
            placed[positive] = psi.mean(axis=1) / positive.sum()
            placed[~positive] = psi.mean(axis=0) / (~positive).sum()
            influence += placed if side == 1 else -placed
    influence /= 3
    variance = sum(influence[y == c].var(ddof=1) * np.sum(y == c) for c in range(3))
    fast = paired_macro_ovr_auc(a, b, y)
    assert fast.champion == pytest.approx(aucs[0].mean(), abs=1e-12)
    assert fast.challenger == pytest.approx(aucs[1].mean(), abs=1e-12)
    assert fast.se == pytest.approx(np.sqrt(variance), rel=1e-9)


def test_multinomial_bootstrap_matches_row_resampling_and_the_analytic_error() -> None:
    """Multinomial cell counts resample rows: same spread as the row bootstrap and as McNemar's."""
    rng = np.random.default_rng(5)
    y, champion, challenger = correctness_pair(rng, 4000, 0.85, 0.01, 0.15)
    joint = np.zeros((2, 2, 2), dtype=np.int64)
    np.add.at(joint, (y, champion, challenger), 1)
    deltas = bootstrap_deltas(joint, 1, np.random.default_rng(0), 4000)["accuracy"]
    rows = rng.integers(0, y.size, size=(2000, y.size))
    by_rows = (challenger[rows] == y[rows]).mean(axis=1) - (champion[rows] == y[rows]).mean(axis=1)
    right_a, right_b = champion == y, challenger == y
    discordant = np.mean(right_a != right_b)
    mean_gain = np.mean(right_b) - np.mean(right_a)
    analytic = np.sqrt((discordant - mean_gain**2) / y.size)
    assert deltas.std() == pytest.approx(by_rows.std(), rel=0.08)
    assert deltas.std() == pytest.approx(analytic, rel=0.06)
    assert deltas.mean() == pytest.approx(mean_gain, abs=analytic / 5)


def test_same_seed_same_numbers_other_seed_other_bootstrap() -> None:
    """Reproducible with a seed; only the bootstrap depends on it."""
    pair = make_classification_pair(n=400, seed=1)
    first, again, other = (
        compare_predictions(Task.BINARY, pair.y, pair.champion, pair.challenger, seed=seed)
        for seed in (7, 7, 8)
    )
    assert first == again
    assert first["accuracy"].ci_low != other["accuracy"].ci_low
    assert first["roc_auc"] == other["roc_auc"]
    assert first["log_loss"] == other["log_loss"]


def _shared_noise_pair(
    rng: np.random.Generator, n: int, task: Task
) -> tuple[np.ndarray, Predictions, Predictions]:
    """Two models of equal true quality whose errors are correlated, as retrained models are."""
    k = {Task.BINARY: 2, Task.MULTICLASS: 3, Task.REGRESSION: 1}[task]
    if task is Task.REGRESSION:
        y = rng.normal(size=n)
        shared = rng.normal(size=n)
        sides = [y + shared + rng.normal(size=n) for _ in range(2)]
        return y, Predictions(sides[0]), Predictions(sides[1])
    y = rng.integers(0, k, size=n)
    shared = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    predictions = []
    for _ in range(2):
        logits = shared + rng.normal(scale=0.8, size=(n, k))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        scores = probabilities[:, 1] if k == 2 else probabilities
        predictions.append(Predictions(probabilities.argmax(axis=1), scores, tuple(range(k))))
    return y, predictions[0], predictions[1]


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS, Task.REGRESSION])
def test_p_values_are_calibrated_and_intervals_cover_under_equality(task: Task) -> None:
    """With equally good models, p < 0.05 about 5% of the time and the 95% CI holds 0 about 95%."""
    rng = np.random.default_rng(11)
    runs = [
        compare_predictions(task, *_shared_noise_pair(rng, 400, task), seed=i, n_resamples=1000)
        for i in range(250)
    ]
    for name in runs[0]:
        p_values = np.array([run[name].p_value for run in runs])
        covered = np.mean([_covers(run[name], 0.0) for run in runs])
        assert 0.01 <= np.mean(p_values < 0.05) <= 0.10, name
        assert 0.38 <= np.mean(p_values < 0.5) <= 0.62, name
        assert 0.90 <= covered <= 0.99, name


def _covers(metric: MetricComparison, value: float) -> bool:
    assert metric.ci_low is not None
    assert metric.ci_high is not None
    return metric.ci_low <= value <= metric.ci_high


@pytest.mark.parametrize(
    ("name", "make", "true_delta"),
    [
        ("accuracy", lambda rng: _correctness(rng, 0.02), 0.02),
        (
            "rmse",
            lambda rng: (Task.REGRESSION, *_noisy(rng, 1.0, 0.9)),
            0.9 - 1.0,
        ),
        (
            "mae",
            lambda rng: (Task.REGRESSION, *_noisy(rng, 1.0, 0.9)),
            (0.9 - 1.0) * np.sqrt(2 / np.pi),
        ),
    ],
)
def test_intervals_cover_a_known_difference(
    name: str, make: Callable[[np.random.Generator], tuple], true_delta: float
) -> None:
    """Coverage where the true difference is known in closed form."""
    rng = np.random.default_rng(21)
    runs = [compare_predictions(*make(rng), seed=i, n_resamples=1000)[name] for i in range(250)]
    coverage = np.mean([_covers(run, true_delta) for run in runs])
    assert 0.90 <= coverage <= 0.99


def _correctness(
    rng: np.random.Generator, gain: float
) -> tuple[Task, np.ndarray, Predictions, Predictions]:
    y, champion, challenger = correctness_pair(rng, 2000, 0.85, gain, 0.15)
    return Task.BINARY, y, Predictions(champion), Predictions(challenger)


def _noisy(
    rng: np.random.Generator, champion_sd: float, challenger_sd: float
) -> tuple[np.ndarray, Predictions, Predictions]:
    y = rng.normal(size=2000)
    return (
        y,
        Predictions(y + rng.normal(scale=champion_sd, size=y.size)),
        Predictions(y + rng.normal(scale=challenger_sd, size=y.size)),
    )


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS])
def test_a_clearly_better_challenger_wins_in_every_direction(task: Task) -> None:
    """Better means larger accuracy and AUC but smaller log loss: every p-value says so."""
    k = 2 if task is Task.BINARY else 4
    pair = make_classification_pair(n=2000, k=k, seed=2, champion_skill=0.2, challenger_skill=1.0)
    result = compare_predictions(task, pair.y, pair.champion, pair.challenger)
    assert result["log_loss"].delta is not None
    assert result["log_loss"].delta < 0
    assert result["roc_auc"].delta is not None
    assert result["roc_auc"].delta > 0
    assert all(m.p_value is not None and m.p_value < 0.01 for m in result.values())
    reversed_result = compare_predictions(task, pair.y, pair.challenger, pair.champion)
    assert all(m.p_value is not None and m.p_value > 0.99 for m in reversed_result.values())


def test_regression_direction_and_identical_models() -> None:
    """Smaller errors win; identical predictions give no evidence (p = 1, interval [0, 0])."""
    pair = make_regression_pair(n=3000, champion_noise=1.0, challenger_noise=0.7)
    result = compare_predictions(Task.REGRESSION, pair.y, pair.champion, pair.challenger)
    assert all(m.p_value is not None and m.p_value < 0.001 for m in result.values())
    same = compare_predictions(Task.REGRESSION, pair.y, pair.champion, pair.champion)
    for metric in same.values():
        assert (metric.delta, metric.ci_low, metric.ci_high, metric.p_value) == (0, 0, 0, 1)


def test_first_deployment_reports_the_challenger_alone() -> None:
    """No champion: values of the challenger, no delta, no interval."""
    pair = make_classification_pair(n=200, seed=4)
    result = compare_predictions(Task.BINARY, pair.y, None, pair.challenger)
    assert set(result) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    for metric in result.values():
        assert metric.champion is None
        assert metric.delta is None
        assert metric.p_value is None
        assert metric.challenger > 0


def test_models_without_scores_leave_out_auc_and_log_loss_with_a_note() -> None:
    """Label-only predictions never get an AUC guessed from labels."""
    pair = make_classification_pair(n=200, seed=4)
    result = evaluate_predictions(
        Task.BINARY, pair.y, Predictions(pair.champion.labels), pair.challenger
    )
    assert set(result.metrics) == {"accuracy", "precision", "recall", "f1"}
    assert result.notes == ("roc_auc and log_loss left out: the champion gives no probabilities.",)


def test_a_class_only_the_models_know_counts_like_scikit_learn() -> None:
    """A model of three classes evaluated where only two occur: macro over the classes used."""
    pair = make_classification_pair(n=300, k=3, seed=12)
    keep = pair.y < 2
    y = pair.y[keep]
    sides = []
    for side in (pair.champion, pair.challenger):
        assert side.scores is not None
        scores = side.scores[keep]
        sides.append(Predictions(scores.argmax(axis=1), scores, (0, 1, 2)))
    result = evaluate_predictions(Task.MULTICLASS, y, sides[0], sides[1])
    expected_f1 = sk.f1_score(y, sides[1].labels, average="macro", zero_division=0)
    assert result.metrics["f1"].challenger == pytest.approx(expected_f1, abs=1e-12)
    expected_loss = sk.log_loss(y, sides[1].scores, labels=[0, 1, 2])
    assert result.metrics["log_loss"].challenger == pytest.approx(expected_loss, abs=1e-12)
    assert "roc_auc" not in result.metrics
    assert "roc_auc left out: some class never occurs among the labels." in result.notes


def test_a_binary_task_with_three_classes_is_refused() -> None:
    """A wrong task is the user's error, named with the classes found."""
    y = np.array([0, 1, 2, 1])
    with pytest.raises(UserInputError, match="binary task cannot have 3 classes"):
        compare_predictions(Task.BINARY, y, Predictions(y), Predictions(y))


def test_labels_and_predictions_of_different_lengths_are_refused() -> None:
    """Both models must score the same rows."""
    with pytest.raises(UserInputError, match="differ in length"):
        compare_predictions(
            Task.BINARY, np.array([0, 1, 1]), Predictions(np.array([0, 1])), Predictions(np.ones(3))
        )
