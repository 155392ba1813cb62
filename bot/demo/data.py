"""The demo's data and training: synthetic churn data split three ways, versions registered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.recipe import Recipe
from bot.training import (
    TrainedVersion,
    churn_data,
    train_and_register,
    write_dataset,
)

MODEL = "churn-classifier"
ENVIRONMENT = "production"


@dataclass(frozen=True)
class DemoData:
    """Where the demo's data and registry live."""

    tracking_uri: str
    eval_path: Path
    train_rows: int = 6000


def prepare_data(workdir: Path) -> DemoData:
    """Synthetic churn data split into training, holdout and evaluation sets."""
    workdir.mkdir(parents=True, exist_ok=True)
    frame = churn_data(12_000)
    eval_path = write_dataset(frame.iloc[9000:], workdir / "data" / "churn-eval.parquet")
    frame.iloc[:6000].to_parquet(workdir / "data" / "churn-train.parquet", index=False)
    frame.iloc[6000:9000].to_parquet(workdir / "data" / "churn-holdout.parquet", index=False)
    return DemoData(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}", eval_path=eval_path)


def train(data: DemoData, recipe: Recipe, tracking_uri: str | None = None) -> TrainedVersion:
    """Train and register one version of the demo model."""
    import pandas as pd  # noqa: PLC0415 - pandas is heavy; only the demo needs it here

    folder = data.eval_path.parent
    return train_and_register(
        tracking_uri or data.tracking_uri,
        MODEL,
        recipe,
        pd.read_parquet(folder / "churn-train.parquet"),
        pd.read_parquet(folder / "churn-holdout.parquet"),
    )
