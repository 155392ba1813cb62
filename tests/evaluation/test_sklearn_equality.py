"""Every value promobot reports equals scikit-learn's metric on the same predictions (1e-9)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from bot.domain.comparison import Task
from bot.evaluation import Predictions, compare_predictions, evaluate_predictions
from tests.evaluation.helpers import Pair, make_classification_pair, make_regression_pair

TOLERANCE = 1e-9


def sklearn_classification(pair: Pair, side: Predictions, k: int) -> dict[str, float]:
    """scikit-learn's values for one model: binary with the greater class positive, else macro."""
    labels = list(range(k))
    y, predicted = pair.y, side.labels
    average: dict[str, Any] = {"pos_label": 1} if k == 2 else {"average": "macro"}
    values = {
        "accuracy": sk.accuracy_score(y, predicted),
        "precision": sk.precision_score(y, predicted, zero_division=0, **average),
        "recall": sk.recall_score(y, predicted, zero_division=0, **average),
        "f1": sk.f1_score(y, predicted, zero_division=0, **average),
    }
    if side.scores is not None:
        values["log_loss"] = sk.log_loss(y, side.scores, labels=labels)
        values["roc_auc"] = (
            sk.roc_auc_score(y, side.scores)
            if k == 2
            else sk.roc_auc_score(y, side.scores, multi_class="ovr", average="macro", labels=labels)
        )
    return values


def assert_classification_equal(pair: Pair, k: int) -> None:
    task = Task.BINARY if k == 2 else Task.MULTICLASS
    result = compare_predictions(task, pair.y, pair.champion, pair.challenger, n_resamples=50)
    for side, attribute in ((pair.champion, "champion"), (pair.challenger, "challenger")):
        expected = sklearn_classification(pair, side, k)
        assert set(result) == set(expected)
        for name, value in expected.items():
            assert getattr(result[name], attribute) == pytest.approx(value, abs=TOLERANCE), name


@pytest.mark.parametrize(
    ("k", "n", "decimals", "seed"),
    [
        (2, 2, None, 0),
        (2, 50, 1, 1),
        (2, 1000, None, 2),
        (2, 300, 2, 3),
        (3, 3, None, 4),
        (3, 400, 1, 5),
        (5, 800, None, 6),
        (7, 200, 2, 7),
    ],
)
def test_classification_values_equal_sklearn(
    k: int, n: int, decimals: int | None, seed: int
) -> None:
    """A table of binary and multiclass cases, with and without tied scores."""
    assert_classification_equal(make_classification_pair(n=n, k=k, seed=seed, decimals=decimals), k)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(min_value=2, max_value=6),
    n=st.integers(min_value=6, max_value=120),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    decimals=st.sampled_from([None, 1, 2]),
    skills=st.tuples(st.floats(0.0, 3.0), st.floats(0.0, 3.0)),
)
def test_classification_values_equal_sklearn_for_any_predictions(
    k: int, n: int, seed: int, decimals: int | None, skills: tuple[float, float]
) -> None:
    """Any labels, any probabilities, ties included: the same numbers as scikit-learn."""
    pair = make_classification_pair(
        n=n, k=k, seed=seed, decimals=decimals, champion_skill=skills[0], challenger_skill=skills[1]
    )
    assert_classification_equal(pair, k)


def test_string_labels_take_the_greater_label_as_positive() -> None:
    """Labels need not be 0/1: "yes" > "no", as scikit-learn's binary metrics see it."""
    pair = make_classification_pair(n=300, seed=11)
    names = np.array(["no", "yes"])
    y = names[pair.y]
    champion = Predictions(names[pair.champion.labels], pair.champion.scores, ("no", "yes"))
    challenger = Predictions(names[pair.challenger.labels], pair.challenger.scores)
    result = compare_predictions(Task.BINARY, y, champion, challenger, n_resamples=50)
    assert result["f1"].challenger == pytest.approx(
        sk.f1_score(y, challenger.labels, pos_label="yes"), abs=TOLERANCE
    )
    assert result["roc_auc"].champion == pytest.approx(
        sk.roc_auc_score(y, champion.scores), abs=TOLERANCE
    )


def test_macro_averages_skip_classes_no_one_uses() -> None:
    """A class that is neither a label nor a prediction does not dilute macro averages."""
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    champion = Predictions(np.array([0, 1, 1, 0, 1, 2, 0]))
    challenger = Predictions(np.array([0, 1, 2, 3, 1, 2, 2]))
    result = compare_predictions(Task.MULTICLASS, y, champion, challenger, n_resamples=50)
    for name, function in (("precision", sk.precision_score), ("f1", sk.f1_score)):
        for side, attribute in ((champion, "champion"), (challenger, "challenger")):
            expected = function(y, side.labels, average="macro", zero_division=0)
            assert getattr(result[name], attribute) == pytest.approx(expected, abs=TOLERANCE)


def assert_regression_equal(pair: Pair) -> None:
    result = compare_predictions(Task.REGRESSION, pair.y, pair.champion, pair.challenger)
    for side, attribute in ((pair.champion, "champion"), (pair.challenger, "challenger")):
        expected = {
            "rmse": sk.root_mean_squared_error(pair.y, side.labels),
            "mae": sk.mean_absolute_error(pair.y, side.labels),
            "r2": sk.r2_score(pair.y, side.labels),
        }
        for name, value in expected.items():
            assert getattr(result[name], attribute) == pytest.approx(value, abs=TOLERANCE), name


@pytest.mark.parametrize(("n", "seed"), [(2, 0), (10, 1), (500, 2), (20_000, 3)])
def test_regression_values_equal_sklearn(n: int, seed: int) -> None:
    """rmse, mae and r2 over a range of sizes."""
    assert_regression_equal(make_regression_pair(n=n, seed=seed))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    noise=st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 10.0)),
)
def test_regression_values_equal_sklearn_for_any_predictions(
    n: int, seed: int, noise: tuple[float, float]
) -> None:
    """Perfect predictions and wild ones alike."""
    pair = make_regression_pair(n=n, seed=seed, champion_noise=noise[0], challenger_noise=noise[1])
    assert_regression_equal(pair)


def test_constant_labels_follow_sklearn_r2_convention() -> None:
    """With constant labels r2 is 1 for perfect predictions and 0 otherwise, and has no interval."""
    y = np.full(5, 2.0)
    result = evaluate_predictions(Task.REGRESSION, y, Predictions(y.copy()), Predictions(y + 1.0))
    assert result.metrics["r2"].champion == sk.r2_score(y, y) == 1.0
    assert result.metrics["r2"].challenger == sk.r2_score(y, y + 1.0) == 0.0
    assert result.metrics["r2"].ci_low is None
    assert any("r2" in note for note in result.notes)
