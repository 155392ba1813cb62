"""Evaluation files: CSV and chunked Parquet agree, bad input is a clear error, progress is told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.domain.comparison import Comparison, Task
from bot.errors import UserInputError
from bot.evaluation import Predictions, SklearnScorer, compare_predictions, evaluate_models
from bot.evaluation.checks import BadData
from bot.evaluation.data import iter_batches, open_data, read_ahead, sha256_file
from tests.evaluation.conftest import FEATURES, MLFLOW_WARNINGS, TrainedModels, labelled_rows

pytestmark = MLFLOW_WARNINGS


def assert_same_metrics(left: Comparison, right: Comparison) -> None:
    assert left.task == right.task
    assert left.n == right.n
    assert left.metrics.keys() == right.metrics.keys()
    for name, metric in left.metrics.items():
        other = right.metrics[name]
        for field in ("champion", "challenger", "delta", "ci_low", "ci_high", "p_value"):
            assert getattr(metric, field) == pytest.approx(getattr(other, field), abs=1e-12)
        assert metric.method == other.method


def test_chunked_parquet_equals_csv_read_at_once(
    tmp_path: Path, eval_csv: Path, model_folders: dict[str, str]
) -> None:
    """Streaming in chunks of 111 rows gives the numbers of one in-memory pass."""
    parquet = tmp_path / "eval.parquet"
    pd.read_csv(eval_csv).to_parquet(parquet, row_group_size=100)
    seen: list[tuple[int, int | None]] = []
    streamed = evaluate_models(
        model_folders["champion"],
        model_folders["challenger"],
        parquet,
        "label",
        batch_rows=111,
        progress=lambda done, total: seen.append((done, total)),
    )
    at_once = evaluate_models(
        model_folders["champion"], model_folders["challenger"], eval_csv, "label"
    )
    assert_same_metrics(streamed, at_once)
    assert len(seen) == int(np.ceil(1000 / 111))
    assert seen[-1] == (1000, 1000)
    assert streamed.provenance.data_sha256 == sha256_file(parquet)


def test_file_evaluation_equals_the_prediction_entry(
    eval_csv: Path, model_folders: dict[str, str], trained: TrainedModels
) -> None:
    """Loading from MLflow folders changes nothing: same numbers as the models' own predictions."""
    comparison = evaluate_models(
        model_folders["champion"], model_folders["challenger"], eval_csv, "label", seed=3
    )
    frame = pd.read_csv(eval_csv)
    sides = [
        Predictions(m.predict(frame[FEATURES]), m.predict_proba(frame[FEATURES])[:, 1])
        for m in (trained.champion, trained.challenger)
    ]
    expected = compare_predictions(Task.BINARY, frame["label"], *sides, seed=3)
    assert comparison.task is Task.BINARY
    assert comparison.n == 1000
    for name, metric in expected.items():
        assert comparison.metrics[name].challenger == pytest.approx(metric.challenger, abs=1e-12)
        assert comparison.metrics[name].ci_low == pytest.approx(metric.ci_low, abs=1e-12)
    assert comparison.provenance.command == (
        f"promobot evaluate --champion {model_folders['champion']} --challenger "
        f"{model_folders['challenger']} --data {eval_csv} --label label --seed 3"
    )
    assert comparison.provenance.data_sha256 == sha256_file(eval_csv)


def test_parquet_is_read_in_bounded_batches(tmp_path: Path, eval_csv: Path) -> None:
    """No batch is larger than asked for, whatever the file's row groups."""
    parquet = tmp_path / "eval.parquet"
    pd.read_csv(eval_csv).to_parquet(parquet, row_group_size=1000)
    source = open_data(parquet, "label")
    sizes = [len(frame) for frame in iter_batches(source, batch_rows=128)]
    assert source.rows == 1000
    assert max(sizes) == 128
    assert sum(sizes) == 1000


def test_first_deployment_from_files(eval_csv: Path, model_folders: dict[str, str]) -> None:
    """No champion URI: the challenger's values, no deltas."""
    comparison = evaluate_models(None, model_folders["challenger"], eval_csv, "label")
    assert comparison.is_first_deployment
    assert comparison.provenance.champion_uri is None
    assert "roc_auc" in comparison.metrics


def test_sklearn_scorer_keeps_predict_when_it_is_not_the_argmax(trained: TrainedModels) -> None:
    """A model whose predict is not the most probable class is scored with predict."""

    class Contrary:
        classes_ = np.array([0, 1])
        feature_names_in_ = np.array(FEATURES)

        def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
            return trained.champion.predict_proba(x)

        def predict(self, x: pd.DataFrame) -> np.ndarray:
            return 1 - trained.champion.predict(x)

    rows = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 5)), columns=FEATURES)
    predictions = SklearnScorer(Contrary()).score(rows)
    assert np.array_equal(predictions.labels, 1 - trained.champion.predict(rows))


@pytest.mark.parametrize(
    ("name", "content", "label", "message"),
    [
        ("missing.csv", None, "label", "no such file"),
        ("eval.txt", "a,b\n1,2\n", "b", "unknown data format"),
        ("eval.csv", "x0,x1,target\n1,2,0\n", "label", 'no label column "label"; the columns are'),
    ],
)
def test_bad_data_is_a_clear_error(
    tmp_path: Path,
    model_folders: dict[str, str],
    name: str,
    content: str | None,
    label: str,
    message: str,
) -> None:
    """The message says what is wrong; the columns are listed when the label is not among them."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserInputError, match=message) as caught:
        evaluate_models(model_folders["champion"], model_folders["challenger"], path, label)
    assert caught.value.hint


def test_missing_feature_columns_are_named(tmp_path: Path, model_folders: dict[str, str]) -> None:
    """A model that needs a column the data lacks says which."""
    path = tmp_path / "eval.csv"
    path.write_text("x0,x1,x2,x3,label\n1,2,3,4,1\n")
    with pytest.raises(UserInputError, match='no column "x4", which the challenger'):
        evaluate_models(model_folders["champion"], model_folders["challenger"], path, "label")


def test_models_that_disagree_on_the_task_are_refused(
    eval_csv: Path, model_folders: dict[str, str]
) -> None:
    """A classifier cannot be compared with a regressor."""
    with pytest.raises(UserInputError, match="disagree on the task") as caught:
        evaluate_models(model_folders["champion"], model_folders["regressor"], eval_csv, "label")
    assert "regressor" in str(caught.value)
    assert "binary classifier" in str(caught.value)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/no-such-model/1", "does not resolve"),
        ("runs:/0123456789abcdef/model", "does not resolve"),
        ("./no/such/folder", "not an MLflow model folder"),
    ],
)
def test_uris_that_do_not_resolve_are_a_clear_error(
    eval_csv: Path, model_folders: dict[str, str], tracking_uri: str, uri: str, message: str
) -> None:
    """The message names the URI; the hint lists the forms promobot accepts."""
    with pytest.raises(UserInputError, match=message) as caught:
        evaluate_models(
            model_folders["champion"], uri, eval_csv, "label", tracking_uri=tracking_uri
        )
    assert caught.value.hint is not None
    assert "models:/<name>@<alias>" in caught.value.hint


def test_read_ahead_hands_over_the_frames_and_the_reader_error() -> None:
    """The consumer sees every frame in order, then the reader's own exception."""

    def frames() -> Iterator[pd.DataFrame]:
        yield pd.DataFrame({"a": [1]})
        yield pd.DataFrame({"a": [2]})
        raise OSError("disk gone")

    seen = []
    with read_ahead(frames()) as batches, pytest.raises(OSError, match="disk gone"):
        seen.extend(int(frame["a"].iloc[0]) for frame in batches)
    assert seen == [1, 2]


def test_leaving_read_ahead_early_closes_the_file() -> None:
    """A refused first chunk (or a model that fails to load) stops the reader and its file."""
    closed = threading.Event()

    def frames() -> Iterator[pd.DataFrame]:
        try:
            while True:
                yield pd.DataFrame({"a": [1]})
        finally:
            closed.set()

    with read_ahead(frames()) as batches:
        next(batches)
    assert closed.is_set()


def test_a_csv_row_that_cannot_be_parsed_is_one_line(
    tmp_path: Path, model_folders: dict[str, str]
) -> None:
    """A malformed row far into the file is the user's error, located by the parser."""
    path = tmp_path / "eval.csv"
    path.write_text(labelled_rows(50, seed=2).to_csv(index=False) + "1,2,3,4,5,6,7\n")
    with pytest.raises(BadData) as caught:
        evaluate_models(
            model_folders["champion"], model_folders["challenger"], path, "label", data_name="e"
        )
    assert caught.value.message.startswith("e: cannot read it as csv: Error tokenizing data")
    assert "line 52" in caught.value.message
