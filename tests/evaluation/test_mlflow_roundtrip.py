"""A real MLflow (SQLite backend): models logged and registered, evaluated by every kind of URI."""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from bot.domain.comparison import Task
from bot.errors import UserInputError
from bot.evaluation import evaluate_models
from bot.evaluation.checks import BadData
from tests.evaluation.conftest import (
    FEATURES,
    MLFLOW_WARNING_MESSAGES,
    MLFLOW_WARNINGS,
    SAVE_OPTIONS,
    TrainedModels,
)

pytestmark = MLFLOW_WARNINGS


@dataclass(frozen=True)
class Registry:
    """Where the two logged models can be found."""

    tracking_uri: str
    champion_run: str
    challenger_run: str


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, trained: TrainedModels, tracking_uri: str
) -> Any:
    """`churn` v1 (LogisticRegression, alias `champion`) and v2 (HistGradientBoosting)."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    runs = []
    try:
        with warnings.catch_warnings():
            for message in MLFLOW_WARNING_MESSAGES:
                warnings.filterwarnings("ignore", message=message)
            experiment = mlflow.create_experiment("churn", artifact_location=artifacts.as_uri())
            for model in (trained.champion, trained.challenger):
                with mlflow.start_run(experiment_id=experiment) as run:
                    mlflow.sklearn.log_model(
                        model, name="model", registered_model_name="churn", **SAVE_OPTIONS
                    )
                runs.append(run.info.run_id)
            mlflow.MlflowClient(tracking_uri).set_registered_model_alias("churn", "champion", "1")
    finally:
        mlflow.set_tracking_uri(None)
        if previous is not None:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return Registry(tracking_uri, runs[0], runs[1])


def test_registered_versions_and_aliases_evaluate(registry: Registry, eval_csv: Path) -> None:
    """models:/name@alias against models:/name/version, run ids in the provenance."""
    comparison = evaluate_models(
        "models:/churn@champion",
        "models:/churn/2",
        eval_csv,
        "label",
        tracking_uri=registry.tracking_uri,
    )
    assert comparison.task is Task.BINARY
    assert set(comparison.metrics) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    }
    assert comparison.provenance.champion_run_id == registry.champion_run
    assert comparison.provenance.challenger_run_id == registry.challenger_run
    assert comparison.metrics["roc_auc"].method == "DeLong"
    curves = comparison.curves
    assert curves is not None and curves.champion is not None
    for side, auc in ((curves.champion, "champion"), (curves.challenger, "challenger")):
        roc = side.roc
        assert (roc[0].false_positive_rate, roc[0].true_positive_rate) == (0.0, 0.0)
        assert (roc[-1].false_positive_rate, roc[-1].true_positive_rate) == (1.0, 1.0)
        area = sum(
            (b.false_positive_rate - a.false_positive_rate)
            * (a.true_positive_rate + b.true_positive_rate)
            / 2
            for a, b in itertools.pairwise(roc)
        )
        assert area == pytest.approx(getattr(comparison.metrics["roc_auc"], auc), abs=0.02)
        assert sum(b.count for b in side.calibration) == comparison.n


def test_runs_uris_and_local_folders_give_the_same_numbers(
    registry: Registry, eval_csv: Path, model_folders: dict[str, str], trained: TrainedModels
) -> None:
    """The same models reached by runs:/, by models:/ and from a folder: identical comparisons."""
    by_run = evaluate_models(
        f"runs:/{registry.champion_run}/model",
        f"runs:/{registry.challenger_run}/model",
        eval_csv,
        "label",
        tracking_uri=registry.tracking_uri,
    )
    by_version = evaluate_models(
        "models:/churn/1", "models:/churn/2", eval_csv, "label", tracking_uri=registry.tracking_uri
    )
    by_folder = evaluate_models(
        model_folders["champion"], model_folders["challenger"], eval_csv, "label"
    )
    assert by_run.metrics == by_version.metrics == by_folder.metrics
    frame = pd.read_csv(eval_csv)
    expected = np.mean(trained.challenger.predict(frame[FEATURES]) == frame["label"])
    assert by_run.metrics["accuracy"].challenger == pytest.approx(expected, abs=1e-12)


def test_a_missing_version_is_a_clear_error(registry: Registry, eval_csv: Path) -> None:
    """A version the registry does not have is reported with the URI, not a traceback."""
    with pytest.raises(UserInputError, match=r"models:/churn/9 does not resolve"):
        evaluate_models(
            "models:/churn/1",
            "models:/churn/9",
            eval_csv,
            "label",
            tracking_uri=registry.tracking_uri,
        )


class ProbabilityModel:
    """A pyfunc model (not the scikit-learn flavour) whose output is one column per class."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:  # noqa: ARG002 - the signature MLflow calls
        return pd.DataFrame(self.estimator.predict_proba(model_input[FEATURES]), columns=[0, 1])


class LabelModel(ProbabilityModel):
    """A pyfunc model that only answers the class."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:  # noqa: ARG002 - the signature MLflow calls
        return pd.DataFrame({"label": self.estimator.predict(model_input[FEATURES])})


def _save_pyfunc(folder: Path, model: ProbabilityModel) -> str:
    wrapper = type(model.__class__.__name__, (model.__class__, PythonModel), {})(model.estimator)
    mlflow.pyfunc.save_model(str(folder), python_model=wrapper, pip_requirements=["scikit-learn"])
    return str(folder)


def test_pyfunc_probabilities_are_scores_and_labels_alone_are_noted(
    tmp_path: Path, eval_csv: Path, model_folders: dict[str, str], trained: TrainedModels
) -> None:
    """A pyfunc's 2-D output gives roc_auc; a label-only pyfunc leaves it out with a note."""
    probabilities = _save_pyfunc(tmp_path / "proba", ProbabilityModel(trained.challenger))
    labels_only = _save_pyfunc(tmp_path / "labels", LabelModel(trained.challenger))
    native = evaluate_models(
        model_folders["champion"], model_folders["challenger"], eval_csv, "label"
    )
    with_scores = evaluate_models(model_folders["champion"], probabilities, eval_csv, "label")
    without = evaluate_models(model_folders["champion"], labels_only, eval_csv, "label")
    assert with_scores.metrics["roc_auc"] == native.metrics["roc_auc"]
    assert with_scores.metrics["accuracy"] == native.metrics["accuracy"]
    assert "roc_auc" not in without.metrics
    assert without.metrics["f1"] == native.metrics["f1"]
    assert without.notes == (
        "roc_auc and log_loss left out: the challenger gives no probabilities.",
    )


def test_a_column_the_signature_requires_is_named_before_scoring(
    tmp_path: Path, eval_csv: Path, trained: TrainedModels
) -> None:
    """The MLmodel signature says what a pyfunc model reads: data without it is one line."""
    folder = tmp_path / "signed"
    wrapper = type("Signed", (ProbabilityModel, PythonModel), {})(trained.challenger)
    frame = pd.read_csv(eval_csv)
    mlflow.pyfunc.save_model(
        str(folder),
        python_model=wrapper,
        signature=infer_signature(frame[FEATURES]),
        input_example=frame[FEATURES].head(2),
        pip_requirements=["scikit-learn"],
    )
    data = tmp_path / "eval.csv"
    frame.drop(columns=["x4"]).to_csv(data, index=False)
    with pytest.raises(BadData) as caught:
        evaluate_models(None, str(folder), data, "label", data_name="eval.csv")
    assert caught.value.message.startswith(
        f'eval.csv: no column "x4", which the challenger ({folder}) reads; the columns are'
    )
