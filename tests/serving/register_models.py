"""Register the scoring server's test models in an MLflow registry (run in a subprocess).

Run apart from the test process so MLflow's process-wide tracking URI never
leaks into other tests. Prints `{"<name>": "<version>", ...}` as JSON.

    python tests/serving/register_models.py TRACKING_URI ARTIFACT_ROOT
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from bot.evaluation.models import HIST_GRADIENT_BOOSTING_TYPES

MODEL = "churn"
COLUMNS = ["a", "b", "c", "d"]
FRAGILE_CODE = Path(__file__).parent / "model_code" / "fragile.py"


def training_data() -> tuple[pd.DataFrame, pd.Series]:
    """Four features; the label follows feature `a`."""
    rng = np.random.default_rng(7)
    features = pd.DataFrame(rng.normal(size=(300, 4)), columns=COLUMNS)
    return features, (features["a"] + 0.3 * features["b"] > 0).astype("int64")


def safe_example() -> pd.DataFrame:
    """Rows every test model answers (feature `a` within the fragile model's limit)."""
    return pd.DataFrame({"a": [0.5, -0.5], "b": [0.1, 0.2], "c": [0.0, 1.0], "d": [1.0, 0.0]})


def register(tracking_uri: str, artifact_root: Path) -> dict[str, str]:
    """Log and register every test model as a version of `churn`; name -> version."""
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.MlflowClient().create_experiment(
        "serving-tests", artifact_location=artifact_root.as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment)
    features, labels = training_data()
    example = safe_example()
    unsafe = example.assign(a=[2.0, 0.5])
    logistic = LogisticRegression().fit(features, labels)
    boosted = HistGradientBoostingClassifier(max_iter=20).fit(features, labels)
    common = {"registered_model_name": MODEL, "pip_requirements": ["scikit-learn"]}
    versions: dict[str, str] = {}
    with warnings.catch_warnings():
        # MLflow hints that integer outputs cannot hold missing values; irrelevant here.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        steps = {
            "logistic": lambda: mlflow.sklearn.log_model(
                logistic, name="model", input_example=example, **common
            ),
            "boosted": lambda: mlflow.sklearn.log_model(
                boosted,
                name="model",
                input_example=example,
                skops_trusted_types=list(HIST_GRADIENT_BOOSTING_TYPES),
                **common,
            ),
            "fragile": lambda: mlflow.pyfunc.log_model(
                name="model", python_model=str(FRAGILE_CODE), input_example=example, **common
            ),
            "fragile_example": lambda: mlflow.pyfunc.log_model(
                name="model", python_model=str(FRAGILE_CODE), input_example=unsafe, **common
            ),
            "signature_only": lambda: mlflow.sklearn.log_model(
                logistic,
                name="model",
                signature=infer_signature(features, logistic.predict(features)),
                **common,
            ),
        }
        for name, log in steps.items():
            with mlflow.start_run(run_name=name):
                versions[name] = str(log().registered_model_version)
    return versions


if __name__ == "__main__":
    print(json.dumps(register(sys.argv[1], Path(sys.argv[2]))))
