"""The example retraining job: synthetic churn data, three kinds of model, registered in MLflow.

The demo and `.github/workflows/retrain.yml` use it; a real team replaces it
with its own pipeline. All that promobot needs from any pipeline is a new
version in the registry with its run's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from bot.recipe import Recipe

LABEL = "churned"


@dataclass(frozen=True)
class TrainedVersion:
    """A model version the job registered."""

    model: str
    version: str
    run_id: str
    metrics: dict[str, float]


FEATURES = (
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "usage_trend",
    "discount_rate",
    "contract_length",
    "late_payments",
    "sessions_per_week",
    "plan_changes",
    "region_index",
    "device_count",
    "referrals",
)


def churn_data(n_rows: int, seed: int = 7) -> pd.DataFrame:
    """A churn-like binary dataset: a linear part a logistic model finds, and
    interactions and curvature that only a tree ensemble captures."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, len(FEATURES)))
    logit = (
        1.4 * x[:, 0]
        - 1.1 * x[:, 1]
        + 0.8 * x[:, 2]
        + 0.6 * x[:, 6]
        + 1.6 * np.sin(2 * x[:, 3])
        + 1.3 * x[:, 4] * x[:, 5]
        - 0.8 * (x[:, 7] ** 2 - 1)
    )
    label = rng.random(n_rows) < 1 / (1 + np.exp(-2 * logit))
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame[LABEL] = label.astype(np.int64)
    return frame


def _estimator(recipe: Recipe, seed: int) -> Any:
    if recipe is Recipe.BETTER:
        return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=seed)
    if recipe is Recipe.WORSE:
        return LogisticRegression(C=0.05, max_iter=200)
    return LogisticRegression(max_iter=500)


def _training_rows(frame: pd.DataFrame, recipe: Recipe, seed: int) -> pd.DataFrame:
    """A worse model is one trained on too little, noisy data, as happens in practice."""
    if recipe is not Recipe.WORSE:
        return frame
    small = frame.head(120).copy()
    flip = np.random.default_rng(seed).random(len(small)) < 0.35
    small.loc[flip, LABEL] = 1 - small.loc[flip, LABEL]
    return small


def log_sklearn_model(model: Any, example: pd.DataFrame, registered_name: str | None) -> Any:
    """Log a fitted scikit-learn model so that it loads anywhere without extra arguments."""
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    signature = ModelSignature(
        inputs=infer_signature(example).inputs, outputs=Schema([ColSpec("long")])
    )
    return mlflow.sklearn.log_model(
        model,
        name="model",
        input_example=example,
        signature=signature,
        registered_model_name=registered_name,
        skops_trusted_types=trusted,
        # Stating the requirements skips MLflow's slow inference of them in a subprocess.
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"],
    )


def train_and_register(
    tracking_uri: str,
    model_name: str,
    recipe: Recipe,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    seed: int = 0,
) -> TrainedVersion:
    """Fit, score on the holdout, log the run's metrics and register a new version."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(f"{model_name}-training")
    estimator = _estimator(recipe, seed)
    rows = _training_rows(train, recipe, seed)
    estimator.fit(rows.drop(columns=[LABEL]), rows[LABEL])
    x_hold = holdout.drop(columns=[LABEL])
    scores = estimator.predict_proba(x_hold)[:, 1]
    predicted = (scores >= 0.5).astype(np.int64)
    metrics = {
        "accuracy": float(accuracy_score(holdout[LABEL], predicted)),
        "f1": float(f1_score(holdout[LABEL], predicted)),
        "roc_auc": float(roc_auc_score(holdout[LABEL], scores)),
    }
    with mlflow.start_run(run_name=f"{model_name}-{recipe.value}") as run:
        mlflow.log_params({"recipe": recipe.value, "estimator": type(estimator).__name__})
        mlflow.log_metrics(metrics)
        info = log_sklearn_model(estimator, x_hold.head(5), model_name)
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri).set_model_version_tag(model_name, version, "recipe", recipe.value)
    return TrainedVersion(model_name, version, run.info.run_id, metrics)


def write_dataset(frame: pd.DataFrame, path: Path) -> Path:
    """Save an evaluation set as Parquet (or CSV by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
