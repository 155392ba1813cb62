"""A pyfunc model (MLflow "models from code") that fails on part of its input.

It answers rows whose feature `a` is at most 1.0 and raises for any other row,
as a version with an unhandled edge case would: its smoke test can pass while
real traffic fails.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

LIMIT = 1.0


class FragileModel(PythonModel):
    """Predicts `a > 0`, and raises when `a` exceeds `LIMIT`."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        del context, params
        if (model_input["a"] > LIMIT).any():
            raise ValueError(f"feature a above {LIMIT} is outside what this version handles")
        return (model_input["a"] > 0).astype("int64").to_numpy()


mlflow.models.set_model(FragileModel())
