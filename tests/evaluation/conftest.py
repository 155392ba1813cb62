"""Small trained models and labelled files for the evaluation tests."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from bot.evaluation import HIST_GRADIENT_BOOSTING_TYPES

with warnings.catch_warnings():
    # Importing mlflow.pyfunc infers a schema for MLflow's own agent types, once, with a warning.
    warnings.filterwarnings("ignore", message=".*inferred as AnyType", category=UserWarning)
    import mlflow.pyfunc

FEATURES = [f"x{i}" for i in range(5)]

# Warnings raised inside MLflow itself, which promobot cannot act on: its SQLAlchemy store
# uses an API SQLAlchemy deprecates, and importing mlflow.pyfunc infers a schema for its own
# agent types once per process.
MLFLOW_WARNING_MESSAGES = (
    "The ``noload`` loader strategy is deprecated",
    ".*inferred as AnyType",
)
MLFLOW_WARNINGS = [
    pytest.mark.filterwarnings(f"ignore:{message}") for message in MLFLOW_WARNING_MESSAGES
]


def labelled_rows(n: int, seed: int) -> pd.DataFrame:
    """Rows of five features and a binary label from one fixed law."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, len(FEATURES)))
    logit = features[:, 0] - 0.8 * features[:, 1] + features[:, 2] * features[:, 3]
    frame = pd.DataFrame(features, columns=FEATURES)
    frame["label"] = (logit + rng.logistic(size=n) > 0).astype(np.int64)
    return frame


@dataclass(frozen=True)
class TrainedModels:
    """A LogisticRegression champion and a HistGradientBoosting challenger, plus a regressor."""

    champion: LogisticRegression
    challenger: HistGradientBoostingClassifier
    regressor: LinearRegression


@pytest.fixture(scope="session")
def trained() -> TrainedModels:
    train = labelled_rows(400, seed=1)
    features, labels = train[FEATURES], train["label"]
    return TrainedModels(
        champion=LogisticRegression().fit(features, labels),
        challenger=HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(
            features, labels
        ),
        regressor=LinearRegression().fit(features, labels.astype(float)),
    )


@pytest.fixture
def eval_csv(tmp_path: Path) -> Path:
    path = tmp_path / "eval.csv"
    labelled_rows(1000, seed=2).to_csv(path, index=False)
    return path


SAVE_OPTIONS = {
    "skops_trusted_types": list(HIST_GRADIENT_BOOSTING_TYPES),
    # Given explicitly, so MLflow skips inferring them in a subprocess (tens of seconds).
    "pip_requirements": ["scikit-learn", "skops"],
}


@pytest.fixture(scope="session")
def model_folders(
    tmp_path_factory: pytest.TempPathFactory, trained: TrainedModels
) -> dict[str, str]:
    """The three models saved as local MLflow model folders."""
    root = tmp_path_factory.mktemp("models")
    folders = {}
    with warnings.catch_warnings():
        for message in MLFLOW_WARNING_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        for name in ("champion", "challenger", "regressor"):
            folder = root / name
            mlflow.sklearn.save_model(getattr(trained, name), str(folder), **SAVE_OPTIONS)
            folders[name] = str(folder)
    return folders


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty SQLite-backed MLflow, its tables created once for the session."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    with warnings.catch_warnings():
        for message in MLFLOW_WARNING_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        MlflowClient(uri).search_experiments()
    return uri
