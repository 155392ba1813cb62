"""Bad evaluation data is one line naming the column and the rows, raised as `BadData`.

The bot re-scores through `evaluate_models` as the CLI does, so these checks
serve both: the CLI prints the line, the bot reports it on the pull request.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from bot.domain.comparison import Comparison
from bot.errors import UserInputError
from bot.evaluation import PyfuncScorer, SklearnScorer, evaluate_models, evaluate_scorers
from bot.evaluation.checks import BadData
from bot.evaluation.data import FileDigest, iter_batches, open_data, sha256_file
from tests.evaluation.conftest import FEATURES, MLFLOW_WARNINGS, TrainedModels, labelled_rows

pytestmark = MLFLOW_WARNINGS

Change = Callable[[pd.DataFrame], pd.DataFrame]


def with_values(column: str, rows: list[int], value: float) -> Change:
    """A change that writes `value` into `column` at 0-based `rows`."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.astype({column: "float64"})
        changed.loc[rows, column] = value
        return changed

    return change


def evaluate_file(
    path: Path, folders: dict[str, str], *, batch_rows: int | None = None, data_name: str = "eval"
) -> Comparison:
    """LogisticRegression champion, HistGradientBoosting challenger, on the file."""
    return evaluate_models(
        folders["champion"],
        folders["challenger"],
        path,
        "label",
        batch_rows=batch_rows,
        data_name=data_name,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            with_values("x3", [2, 16, 41, 44, 45, 46, 47, 48], np.nan),
            'eval.csv: column "x3" has NaN in rows 3, 17, 42 (and 5 more)',
        ),
        (with_values("x1", [4], np.inf), 'eval.csv: column "x1" has an infinite value in row 5'),
        (
            with_values("x0", [0, 9], -np.inf),
            'eval.csv: column "x0" has infinite values in rows 1, 10',
        ),
        (with_values("label", [7], np.nan), 'eval.csv: column "label" has NaN in row 8'),
        (
            with_values("label", [9], np.inf),
            'eval.csv: column "label" has an infinite value in row 10',
        ),
        (
            lambda f: f.assign(x2=np.where(f.index % 2 == 0, np.nan, f["x2"]), x4=np.inf),
            'eval.csv: column "x2" has NaN in rows 1, 3, 5 (and 27 more); '
            'column "x4" has infinite values in rows 1, 2, 3 (and 57 more)',
        ),
        (
            lambda f: f.assign(label=1),
            'eval.csv: column "label" holds only the class 1 (all 60 rows); '
            "comparing classifiers needs rows of at least two classes",
        ),
        (lambda f: f.iloc[:0], "eval.csv: no rows to evaluate, only the column names"),
        (
            lambda f: f.drop(columns=["x2"]),
            'eval.csv: no column "x2", which the challenger (',
        ),
    ],
    ids=[
        "nan-feature",
        "inf-feature",
        "minus-inf-feature",
        "nan-label",
        "inf-label",
        "two-columns",
        "one-class",
        "header-only",
        "missing-feature",
    ],
)
def test_bad_csv_is_one_line_naming_column_and_rows(
    tmp_path: Path, model_folders: dict[str, str], change: Change, message: str
) -> None:
    """Each problem is located: the user fixes the named rows without opening a traceback."""
    path = tmp_path / "eval.csv"
    change(labelled_rows(60, seed=2)).to_csv(path, index=False)
    with pytest.raises(BadData) as caught:
        evaluate_file(path, model_folders, data_name="eval.csv")
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message
    assert isinstance(caught.value, UserInputError)


def test_an_empty_label_among_strings_is_named() -> None:
    """String labels have no NaN: an empty cell is called an empty value."""
    frame = labelled_rows(40, seed=4)
    frame["label"] = frame["label"].map({0: "stays", 1: "churns"}).astype(object)
    model = SklearnScorer(LogisticRegression().fit(frame[FEATURES], frame["label"]))
    frame.loc[3, "label"] = None
    with pytest.raises(BadData) as caught:
        evaluate_scorers(model, model, [frame], "label")
    assert caught.value.message == 'the data: column "label" has an empty value in row 4'


def test_zero_row_parquet_is_refused_before_the_models_load(tmp_path: Path) -> None:
    """Parquet says how many rows it holds: no model is fetched for an empty file."""
    path = tmp_path / "eval.parquet"
    labelled_rows(10, seed=2).iloc[:0].to_parquet(path)
    with pytest.raises(BadData, match="no rows to evaluate, only the column names"):
        evaluate_models("models:/never/1", "models:/loaded/1", path, "label", data_name="e")


def test_missing_label_column_is_one_line(tmp_path: Path) -> None:
    """The label the policy or the flag names is not in the file: the columns are listed."""
    path = tmp_path / "eval.csv"
    labelled_rows(5, seed=2).rename(columns={"label": "churned"}).to_csv(path, index=False)
    with pytest.raises(BadData) as caught:
        open_data(path, "label", "eval.csv")
    assert caught.value.message == (
        'eval.csv: no label column "label"; the columns are "x0", "x1", "x2", "x3", "x4", "churned"'
    )


def test_parquet_chunks_count_every_bad_row_in_one_read(
    tmp_path: Path, model_folders: dict[str, str]
) -> None:
    """Rows are numbered across chunks, and the rows after the first bad chunk still count."""
    path = tmp_path / "eval.parquet"
    frame = labelled_rows(200, seed=2)
    frame.loc[[6, 7, 150, 199], "x0"] = np.nan
    frame.to_parquet(path, row_group_size=16)
    with pytest.raises(BadData) as caught:
        evaluate_file(path, model_folders, batch_rows=7, data_name="eval.parquet")
    assert (
        caught.value.message == 'eval.parquet: column "x0" has NaN in rows 7, 8, 151 (and 1 more)'
    )


def test_models_that_take_missing_values_are_given_them(
    tmp_path: Path, model_folders: dict[str, str]
) -> None:
    """NaN reaches a model that takes it (HistGradientBoosting); one that refuses it names it."""
    path = tmp_path / "eval.csv"
    frame = labelled_rows(300, seed=2)
    frame.loc[[1, 5], "x3"] = np.nan
    frame.to_csv(path, index=False)
    comparison = evaluate_models(
        model_folders["challenger"], model_folders["challenger"], path, "label"
    )
    assert comparison.n == 300
    with pytest.raises(BadData) as caught:
        evaluate_file(path, model_folders)
    assert caught.value.message == 'eval: column "x3" has NaN in rows 2, 6'


def test_a_failure_that_bad_values_do_not_explain_is_not_hidden() -> None:
    """Only NaN and infinity are turned into a located message; any other failure propagates."""

    class Broken:
        def predict(self, _frame: pd.DataFrame) -> object:
            raise RuntimeError("model server unreachable")

    frame = labelled_rows(50, seed=2)
    with pytest.raises(RuntimeError, match="unreachable"):
        evaluate_scorers(None, PyfuncScorer(Broken(), uri="b"), [frame], "label")


def test_a_signature_column_the_data_lacks_is_named() -> None:
    """A pyfunc model's signature says what it reads: a missing column is found before scoring."""

    class Never:
        def predict(self, _frame: pd.DataFrame) -> object:
            raise AssertionError("scored data that lacks a column")

    model = PyfuncScorer(Never(), uri="models:/churn/7", input_columns=("x0", "tenure"))
    with pytest.raises(BadData) as caught:
        evaluate_scorers(None, model, [labelled_rows(20, seed=2)], "label", data_name="d.csv")
    assert caught.value.message.startswith(
        'd.csv: no column "tenure", which the challenger (models:/churn/7) reads; the columns are'
    )


def test_many_bad_columns_are_counted(trained: TrainedModels) -> None:
    """The line stays short: three columns are described, the others counted."""
    frame = labelled_rows(20, seed=2).assign(x0=np.nan, x1=np.nan, x2=np.nan, x3=np.nan)
    model = SklearnScorer(trained.champion)
    with pytest.raises(BadData) as caught:
        evaluate_scorers(model, model, [frame], "label")
    assert caught.value.message.endswith("(and 17 more); and 1 more column")
    assert caught.value.message.count('column "') == 3


def read_bytes() -> int:
    """Bytes this process has read through read(2) and its kin, from `/proc/self/io`."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="reads are counted by Linux")
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_the_data_is_read_once(tmp_path: Path, model_folders: dict[str, str], suffix: str) -> None:
    """Checks, scoring and the digest share one read of the file."""
    path = tmp_path / f"eval{suffix}"
    frame = labelled_rows(50_000, seed=2)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, row_group_size=10_000)
    evaluate_file(path, model_folders)
    before = read_bytes()
    comparison = evaluate_file(path, model_folders)
    read = read_bytes() - before
    assert comparison.provenance.data_sha256 == sha256_file(path)
    assert read < 1.3 * path.stat().st_size


@pytest.mark.parametrize(
    ("suffix", "batch_rows"), [(".csv", 100), (".csv.gz", 64), (".parquet", 33)]
)
def test_the_digest_of_the_read_equals_the_file_digest(
    tmp_path: Path, suffix: str, batch_rows: int
) -> None:
    """Digesting the bytes as the readers pass them gives the digest of the file."""
    path = tmp_path / f"eval{suffix}"
    frame = labelled_rows(1000, seed=3)
    if suffix == ".parquet":
        frame.to_parquet(path, row_group_size=100)
    else:
        frame.to_csv(path, index=False)
    source = open_data(path, "label")
    digest = FileDigest(path)
    rows = sum(len(chunk) for chunk in iter_batches(source, batch_rows, digest))
    assert rows == 1000
    assert digest.hexdigest() == sha256_file(path)
