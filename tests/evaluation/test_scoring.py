"""Scoring chunks with loaded models: which task, which classes, and when to refuse."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bot.domain.comparison import Task
from bot.errors import UserInputError
from bot.evaluation import PyfuncScorer, SklearnScorer, evaluate_scorers
from tests.evaluation.conftest import FEATURES, TrainedModels, labelled_rows


class Answers:
    """Stands in for a loaded pyfunc model: answers every row with a fixed function."""

    def __init__(self, answer: Callable[[pd.DataFrame], object]) -> None:
        self.answer = answer

    def predict(self, frame: pd.DataFrame) -> object:
        return self.answer(frame)


def chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def test_pyfunc_numbers_that_are_not_whole_make_a_regression() -> None:
    """Pyfunc models do not declare a task: fractional predictions mean regression."""
    frame = labelled_rows(300, seed=5)
    frame["label"] = frame["x0"] * 2.0
    champion = PyfuncScorer(Answers(lambda f: f["x0"].to_numpy() * 1.9), uri="a")
    challenger = PyfuncScorer(Answers(lambda f: f["x0"].to_numpy() * 2.05), uri="b")
    result = evaluate_scorers(champion, challenger, chunks(frame, 64), "label")
    assert result.task is Task.REGRESSION
    expected = sk.mean_absolute_error(frame["label"], frame["x0"] * 2.05)
    assert result.metrics["mae"].challenger == pytest.approx(expected, abs=1e-12)


def test_integer_labels_with_a_declared_regressor_stay_a_regression() -> None:
    """Count-like labels do not turn a regressor into a classifier."""
    frame = labelled_rows(200, seed=6)
    frame["label"] = np.round(frame["x0"] * 10).astype(int)
    model = LinearRegression().fit(frame[FEATURES], frame["label"])
    result = evaluate_scorers(SklearnScorer(model), SklearnScorer(model), [frame], "label")
    assert result.task is Task.REGRESSION
    assert result.metrics["rmse"].delta == 0.0


def test_models_with_different_classes_are_refused(trained: TrainedModels) -> None:
    """Same task, different label values: the comparison would be meaningless."""
    frame = labelled_rows(200, seed=7)
    other = LogisticRegression().fit(frame[FEATURES], np.where(frame["label"] == 1, "yes", "no"))
    with pytest.raises(UserInputError, match="predict different classes"):
        evaluate_scorers(SklearnScorer(trained.champion), SklearnScorer(other), [frame], "label")


def test_too_many_classes_suggest_a_regression() -> None:
    """Thousands of 'classes' are numbers: the error says to evaluate regressors."""
    frame = labelled_rows(600, seed=8)
    frame["label"] = np.arange(600)
    whole = PyfuncScorer(Answers(lambda f: np.arange(len(f)) + f.index.to_numpy()), uri="a")
    with pytest.raises(UserInputError, match="at most 200") as caught:
        evaluate_scorers(whole, whole, [frame], "label")
    assert caught.value.hint is not None
    assert "regressors" in caught.value.hint


def test_no_rows_is_a_clear_error(trained: TrainedModels) -> None:
    """An empty file is reported, not divided by."""
    scorer = SklearnScorer(trained.champion)
    with pytest.raises(UserInputError, match="no rows"):
        evaluate_scorers(scorer, scorer, [], "label")


def test_labels_from_probabilities_equal_predict_for_listed_classifiers(
    trained: TrainedModels,
) -> None:
    """Taking the most probable class saves a second pass and changes no label."""
    rows = labelled_rows(2000, seed=9)[FEATURES]
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        rows, labelled_rows(2000, seed=9)["label"]
    )
    for model in (trained.champion, trained.challenger, pipeline):
        predictions = SklearnScorer(model).score(rows)
        assert np.array_equal(predictions.labels, model.predict(rows))
        assert np.array_equal(predictions.scores, model.predict_proba(rows))
