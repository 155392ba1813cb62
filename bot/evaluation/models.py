"""Models given as MLflow model URIs, turned into scorers that predict chunks of rows.

A URI is `models:/name/version`, `models:/name@alias`, `runs:/<run id>/<path>`,
any artifact URI MLflow resolves, or a local folder holding an `MLmodel`
file. A model with the scikit-learn flavour is loaded natively, so that
`predict_proba` gives the scores; any other model goes through pyfunc, whose
two-dimensional output is taken as class probabilities.

scikit-learn models logged by MLflow 3 are stored with skops, which refuses
types that are not on its allow-list; MLflow records the extra trusted types
given at logging time (`skops_trusted_types`) in the `MLmodel` file and
passes them on when loading, so a HistGradientBoostingClassifier logged with
`skops_trusted_types=HIST_GRADIENT_BOOSTING_TYPES` loads here unchanged.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from bot.domain.comparison import Task
from bot.errors import UserInputError
from bot.evaluation.predictions import Predictions
from bot.evaluation.resolve import URI_HINT, ResolvedUri, is_local, resolve_model_uri

HIST_GRADIENT_BOOSTING_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
"""The type skops does not trust by default in HistGradientBoosting models: pass it to
`mlflow.sklearn.log_model(..., skops_trusted_types=...)` for models you trained yourself."""

ARGMAX_CLASSIFIERS = frozenset(
    {
        "LogisticRegression",
        "LogisticRegressionCV",
        "HistGradientBoostingClassifier",
        "GradientBoostingClassifier",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "GaussianNB",
        "MLPClassifier",
    }
)
"""scikit-learn classifiers whose `predict` is the class of highest `predict_proba` (up to exact
ties), so one call gives both; for any other model promobot calls `predict` as well."""


class Scorer(Protocol):
    """A loaded model that predicts chunks of evaluation rows."""

    uri: str
    run_id: str | None

    @property
    def task(self) -> Task | None:
        """The task the model was built for, when the model says (None: decide from its output)."""

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The columns the model reads, when it says (None: every column besides the label)."""

    def score(self, features: pd.DataFrame) -> Predictions:
        """Predictions (and scores when the model gives them) for the rows of `features`."""


@dataclass
class SklearnScorer:
    """A scikit-learn estimator used natively.

    A classifier's labels come from `predict` and its scores from
    `predict_proba`. For the classifiers in `ARGMAX_CLASSIFIERS` (also as the
    last step of a Pipeline) `predict` is by definition the most probable
    class, so the label is taken from the probabilities instead of predicting
    twice; any other model (for example SVC, whose Platt-scaled probabilities
    may disagree with `predict`) is asked for both.
    """

    estimator: Any
    uri: str = "<in memory>"
    run_id: str | None = None
    input_columns: tuple[str, ...] | None = None
    """The required input columns of the model's MLflow signature, when it has one."""

    @property
    def task(self) -> Task:
        """Regression for regressors; binary or multiclass from the number of classes."""
        classes = getattr(self.estimator, "classes_", None)
        if classes is None:
            return Task.REGRESSION
        return Task.BINARY if len(classes) <= 2 else Task.MULTICLASS

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The feature names the estimator was fitted with, else the signature's columns."""
        names = getattr(self.estimator, "feature_names_in_", None)
        return self.input_columns if names is None else tuple(str(n) for n in names)

    @property
    def classes(self) -> tuple[Hashable, ...] | None:
        """The classifier's classes in `predict_proba` order."""
        classes = getattr(self.estimator, "classes_", None)
        return None if classes is None else tuple(np.asarray(classes).tolist())

    def score(self, features: pd.DataFrame) -> Predictions:
        inputs = self._inputs(features)
        if self.classes is None or not hasattr(self.estimator, "predict_proba"):
            return Predictions(np.asarray(self.estimator.predict(inputs)))
        scores = np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)
        if _predicts_most_probable(self.estimator):
            labels = np.asarray(self.estimator.classes_)[scores.argmax(axis=1)]
        else:
            labels = np.asarray(self.estimator.predict(inputs))
        return Predictions(labels, scores, self.classes)

    def _inputs(self, features: pd.DataFrame) -> Any:
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is not None:
            missing = [n for n in names if n not in features.columns]
            if missing:
                raise UserInputError(
                    f"the data lacks columns the model {self.uri} needs: {missing}",
                    hint=f"the data has {list(features.columns)}",
                )
            wanted = list(names)
            return features if list(features.columns) == wanted else features[wanted]
        expected = getattr(self.estimator, "n_features_in_", features.shape[1])
        if expected != features.shape[1]:
            raise UserInputError(
                f"the model {self.uri} takes {expected} features, the data has "
                f"{features.shape[1]} besides the label: {list(features.columns)}",
                hint="drop the columns the model was not trained on",
            )
        return features.to_numpy()


def _predicts_most_probable(estimator: Any) -> bool:
    steps = getattr(estimator, "steps", None)
    final = steps[-1][1] if steps else estimator
    kind = type(final)
    return kind.__module__.startswith("sklearn.") and kind.__name__ in ARGMAX_CLASSIFIERS


@dataclass
class PyfuncScorer:
    """Any MLflow pyfunc model; a 2-D output is read as one probability column per class."""

    model: Any
    uri: str
    run_id: str | None = None
    input_columns: tuple[str, ...] | None = None
    """The required input columns of the model's MLflow signature, when it has one."""

    @property
    def task(self) -> None:
        """Pyfunc models do not say: the first chunk's output decides."""
        return None

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The signature's input columns."""
        return self.input_columns

    def score(self, features: pd.DataFrame) -> Predictions:
        output = self.model.predict(features)
        columns: tuple[Hashable, ...] | None = None
        if isinstance(output, pd.DataFrame):
            columns = tuple(output.columns.tolist())
            output = output.to_numpy()
        values = np.asarray(output)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim == 1:
            return Predictions(values)
        classes = columns if columns is not None else tuple(range(values.shape[1]))
        scores = values.astype(np.float64)
        return Predictions(
            np.asarray(classes, dtype=object)[scores.argmax(axis=1)], scores, classes
        )


def _local_copy(resolved: ResolvedUri, uri: str, download_dir: Path) -> Path:
    """A local folder holding the model: the location itself when on this machine."""
    # mlflow is slow to import: only commands that load models pay for it.
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    location = resolved.location
    if location.startswith("file://"):
        location = location[len("file://") :]
    if is_local(location):
        folder = Path(location)
    else:
        download_dir.mkdir(parents=True, exist_ok=True)
        try:
            folder = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=location, dst_path=str(download_dir)
                )
            )
        except (MlflowException, OSError) as error:
            message = str(getattr(error, "message", error)).splitlines()[0]
            raise UserInputError(
                f"model URI {uri} does not resolve: {message}", hint=URI_HINT
            ) from error
    if not (folder / "MLmodel").is_file():
        raise UserInputError(
            f"{uri} is not an MLflow model folder (no MLmodel file)", hint=URI_HINT
        )
    return folder


@contextmanager
def cyclic_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (as it was before, afterwards).

    Importing MLflow, scikit-learn and skops, and deserialising a model, make
    hundreds of thousands of objects that live on; the collector would scan
    the growing heap over and over, about a sixth of the import time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_scorer(uri: str, *, tracking_uri: str | None, download_dir: Path) -> Scorer:
    """Resolve, download and load one model (scikit-learn natively, else pyfunc)."""
    with cyclic_collection_paused():
        return _load_scorer(uri, tracking_uri=tracking_uri, download_dir=download_dir)


def _load_scorer(uri: str, *, tracking_uri: str | None, download_dir: Path) -> Scorer:
    import mlflow.pyfunc  # noqa: PLC0415
    import mlflow.sklearn  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.models import Model  # noqa: PLC0415

    resolved = resolve_model_uri(uri, tracking_uri)
    folder = _local_copy(resolved, uri, download_dir)
    description = Model.load(str(folder / "MLmodel"))
    run_id = resolved.run_id or description.run_id
    inputs = None if description.signature is None else description.signature.inputs
    columns = (
        tuple(str(n) for n in inputs.required_input_names())
        if inputs is not None and inputs.has_input_names()
        else None
    )
    try:
        if "sklearn" in description.flavors:
            estimator = mlflow.sklearn.load_model(str(folder))
            return SklearnScorer(estimator, uri=uri, run_id=run_id, input_columns=columns)
        if "python_function" in description.flavors:
            model = mlflow.pyfunc.load_model(str(folder))
            return PyfuncScorer(model, uri=uri, run_id=run_id, input_columns=columns)
    except TypeError as error:
        if type(error).__name__ != "UntrustedTypesFoundException":
            raise
        raise UserInputError(
            f"the model {uri} holds types skops does not trust: {error}".splitlines()[0],
            hint="log the model again with mlflow.sklearn.log_model(..., "
            "skops_trusted_types=[...]) naming the types you trust",
        ) from error
    except MlflowException as error:
        raise UserInputError(f"cannot load the model {uri}: {error.message}") from error
    raise UserInputError(
        f"the model {uri} has neither a sklearn nor a python_function flavour",
        hint=f"its flavours are {sorted(description.flavors)}; log it with a pyfunc flavour",
    )
