"""A hostile or broken data file given to `promobot evaluate` is one line and exit 2.

NaN or infinite values, no rows, a single class, a missing label or feature
column: each gets one line on stderr that names the column and the rows, and
never a traceback, whatever scikit-learn or pandas would have raised.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from bot.cli.evaluate import evaluate
from tests.evaluation.conftest import (
    FEATURES,
    MLFLOW_WARNING_MESSAGES,
    MLFLOW_WARNINGS,
    SAVE_OPTIONS,
    labelled_rows,
)

pytestmark = MLFLOW_WARNINGS

Change = Callable[[pd.DataFrame], pd.DataFrame]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A LogisticRegression champion and a HistGradientBoosting challenger as MLflow folders."""
    train = labelled_rows(400, seed=1)
    root = tmp_path_factory.mktemp("models")
    trained = {
        "champion": LogisticRegression().fit(train[FEATURES], train["label"]),
        "challenger": HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(
            train[FEATURES], train["label"]
        ),
    }
    with warnings.catch_warnings():
        for message in MLFLOW_WARNING_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        for name, model in trained.items():
            mlflow.sklearn.save_model(model, str(root / name), **SAVE_OPTIONS)
    return {name: str(root / name) for name in trained}


def at(column: str, rows: list[int], value: float) -> Change:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.astype({column: "float64"})
        changed.loc[rows, column] = value
        return changed

    return change


CASES: dict[str, tuple[str, Change, str]] = {
    "nan-feature": (
        "eval.csv",
        at("x3", [2, 16, 41, 44, 45, 46, 47, 48], np.nan),
        'eval.csv: column "x3" has NaN in rows 3, 17, 42 (and 5 more)',
    ),
    "inf-feature": (
        "eval.csv",
        at("x1", [4], np.inf),
        'eval.csv: column "x1" has an infinite value in row 5',
    ),
    "nan-feature-parquet": (
        "eval.parquet",
        at("x0", [0, 59], np.nan),
        'eval.parquet: column "x0" has NaN in rows 1, 60',
    ),
    "nan-label": (
        "eval.csv",
        at("label", [7], np.nan),
        'eval.csv: column "label" has NaN in row 8',
    ),
    "inf-label": (
        "eval.csv",
        at("label", [9, 10], -np.inf),
        'eval.csv: column "label" has infinite values in rows 10, 11',
    ),
    "header-only-csv": (
        "eval.csv",
        lambda f: f.iloc[:0],
        "eval.csv: no rows to evaluate, only the column names",
    ),
    "zero-row-parquet": (
        "eval.parquet",
        lambda f: f.iloc[:0],
        "eval.parquet: no rows to evaluate, only the column names",
    ),
    "one-class": (
        "eval.csv",
        lambda f: f.assign(label=0),
        'eval.csv: column "label" holds only the class 0 (all 60 rows); '
        "comparing classifiers needs rows of at least two classes",
    ),
    "missing-label": (
        "eval.csv",
        lambda f: f.drop(columns=["label"]),
        'eval.csv: no label column "label"; the columns are "x0", "x1", "x2", "x3", "x4"',
    ),
    "missing-feature": (
        "eval.csv",
        lambda f: f.drop(columns=["x2"]),
        'eval.csv: no column "x2", which the challenger (',
    ),
}


def write(path: Path, frame: pd.DataFrame) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)


def command(models: dict[str, str], data: str) -> list[str]:
    return [
        "--champion",
        models["champion"],
        "--challenger",
        models["challenger"],
        "--data",
        data,
        "--label",
        "label",
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: dict[str, str], case: str
) -> None:
    """The user sees where the data is wrong, not where scikit-learn stopped."""
    name, change, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    write(tmp_path / name, change(labelled_rows(60, seed=2)))
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command()(evaluate)
    result = CliRunner().invoke(app, command(models, name))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {expected}")
    assert "Traceback" not in result.output


def test_the_installed_command_prints_no_traceback(tmp_path: Path, models: dict[str, str]) -> None:
    """The same through the real entry point, in its own process."""
    write(tmp_path / "eval.csv", at("x3", [2], np.inf)(labelled_rows(60, seed=2)))
    finished = subprocess.run(
        [sys.executable, "-m", "bot", "evaluate", *command(models, "eval.csv")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr.splitlines() == [
        'error: eval.csv: column "x3" has an infinite value in row 3'
    ]


@pytest.mark.parametrize("name", ["eval.csv.gz", "eval.parquet"])
def test_a_damaged_file_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: dict[str, str], name: str
) -> None:
    """A file cut short in transfer (a truncated gzip, a Parquet file missing its end)."""
    monkeypatch.chdir(tmp_path)
    whole = tmp_path / name
    frame = labelled_rows(60, seed=2)
    if name.endswith(".gz"):
        frame.to_csv(whole, index=False, compression="gzip")
    else:
        frame.to_parquet(whole)
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command()(evaluate)
    result = CliRunner().invoke(app, command(models, name))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {name}"), lines
    assert "Traceback" not in result.output
