"""A real MLflow registry (SQLite) holding three versions of the demo model, built once per run.

Version 1 is the baseline (logistic regression), 2 is better (gradient
boosting), 3 is worse (trained on little noisy data). Tests that need a fresh
registry copy the database file instead of re-running the migrations.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from bot.recipe import Recipe
from bot.training import (
    LABEL,
    TrainedVersion,
    churn_data,
    train_and_register,
    write_dataset,
)
from tests.support.shared import built_once, own_copy

MODEL = "churn-classifier"


@dataclass(frozen=True)
class TrainedRegistry:
    """Where the registry is and what it holds."""

    folder: Path
    tracking_uri: str
    eval_path: Path
    versions: dict[Recipe, TrainedVersion]
    label: str = LABEL

    def version(self, recipe: Recipe) -> TrainedVersion:
        return self.versions[recipe]


def build_registry(folder: Path) -> TrainedRegistry:
    folder.mkdir(parents=True, exist_ok=True)
    frame = churn_data(9000)
    train, holdout = frame.iloc[:5000], frame.iloc[5000:7000]
    eval_path = write_dataset(frame.iloc[7000:].reset_index(drop=True), folder / "eval.parquet")
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    artifacts = folder / "artifacts"
    mlflow.create_experiment(f"{MODEL}-training", artifact_location=artifacts.as_uri())
    # One OpenMP thread fits the same models: on a busy machine the gradient boosting's
    # threads wait on each other for seconds (0.6 s alone against 6 to 10 s).
    with threadpool_limits(1):
        versions = {
            recipe: train_and_register(tracking_uri, MODEL, recipe, pd.DataFrame(train), holdout)
            for recipe in (Recipe.BASELINE, Recipe.BETTER, Recipe.WORSE)
        }
    return TrainedRegistry(folder, tracking_uri, eval_path, versions)


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory) -> TrainedRegistry:
    """Three registered versions of churn-classifier, trained once per run; each worker
    has its own copy of the database (and its own folder), the data and artifacts shared."""

    def build(folder: Path) -> None:
        built = build_registry(folder)
        (folder / "versions.pickle").write_bytes(pickle.dumps(built.versions))

    shared = built_once(tmp_path_factory, "trained-registry", build)
    versions: dict[Recipe, TrainedVersion] = pickle.loads((shared / "versions.pickle").read_bytes())
    tracking_uri = own_copy(tmp_path_factory, shared / "mlflow.db")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)  # where `build_registry` leaves it, in any worker
    folder = Path(tracking_uri.removeprefix("sqlite:///")).parent
    return TrainedRegistry(folder, tracking_uri, shared / "eval.parquet", versions)
