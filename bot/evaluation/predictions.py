"""What one model predicted for a set of rows, and the labels those predictions are coded in."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from bot.errors import UserInputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Predictions:
    """One model's output on the evaluation rows.

    `labels` holds the predicted class of every row (classification) or the
    predicted value (regression). `scores` holds probabilities: shape `(n,)` is
    the probability of the positive class of a binary task (the greater of the
    two classes, as in scikit-learn), shape `(n, k)` one column per class in the
    order of `classes` (sorted classes when `classes` is None, as `predict_proba`
    orders them).
    """

    labels: npt.NDArray[Any]
    scores: FloatArray | None = None
    classes: tuple[Hashable, ...] | None = None

    def __len__(self) -> int:
        return int(np.asarray(self.labels).shape[0])


class Codebook:
    """Maps class labels to small integer codes, growing as new labels appear.

    Python's equality decides which labels are the same (so `1`, `1.0` and
    `np.int64(1)` share a code, while `"1"` does not).
    """

    def __init__(self) -> None:
        self._codes: dict[Hashable, int] = {}

    @property
    def size(self) -> int:
        """How many distinct labels have been seen."""
        return len(self._codes)

    @property
    def labels(self) -> list[Hashable]:
        """The labels in code order."""
        return list(self._codes)

    def encode(self, values: npt.ArrayLike) -> IntArray:
        """Codes of `values`, adding unseen labels to the book."""
        array = np.asarray(values)
        if array.ndim != 1:
            raise UserInputError(f"class labels must be one-dimensional, got shape {array.shape}")
        local_codes, uniques = pd.factorize(array, sort=False)
        if (local_codes < 0).any():
            raise UserInputError(
                "missing values among class labels or predictions",
                hint="drop the rows with an empty label before evaluating",
            )
        mapping = np.array([self._code_of(_plain(u)) for u in uniques], dtype=np.int64)
        return mapping[local_codes] if mapping.size else np.zeros(0, dtype=np.int64)

    def encode_classes(self, classes: Sequence[Hashable]) -> IntArray:
        """Codes of a model's class list, in the model's order."""
        return np.array([self._code_of(_plain(c)) for c in classes], dtype=np.int64)

    def sorted_order(self) -> IntArray:
        """Codes listed in sorted label order (scikit-learn orders classes this way)."""
        labels = self.labels
        try:
            order = sorted(range(len(labels)), key=lambda i: labels[i])  # type: ignore[arg-type,return-value]
        except TypeError as error:
            kinds = sorted({type(label).__name__ for label in labels})
            raise UserInputError(
                f"class labels of different kinds cannot be compared: {kinds}",
                hint="the label column and the models' predictions must use the same label "
                "values (for example both integers, or both strings)",
            ) from error
        return np.array(order, dtype=np.int64)

    def _code_of(self, label: Hashable) -> int:
        code = self._codes.get(label)
        if code is None:
            code = len(self._codes)
            self._codes[label] = code
        return code


def _plain(value: Any) -> Hashable:
    """A numpy scalar as the equivalent Python scalar, so it hashes like the others."""
    return value.item() if isinstance(value, np.generic) else value  # type: ignore[no-any-return]


def as_probability_matrix(
    predictions: Predictions, universe: Sequence[Hashable]
) -> tuple[FloatArray, tuple[Hashable, ...]] | None:
    """The scores as an `(n, k)` float64 matrix with the classes of its columns, or None."""
    if predictions.scores is None:
        return None
    scores = np.asarray(predictions.scores, dtype=np.float64)
    if scores.ndim == 1:
        classes = predictions.classes or tuple(sorted(universe))  # type: ignore[type-var]
        if len(classes) != 2:
            raise UserInputError(
                f"one-dimensional scores need exactly two classes, found {len(classes)}",
                hint="pass one probability column per class for a multiclass task",
            )
        return np.column_stack([1.0 - scores, scores]), tuple(classes)
    if scores.ndim != 2:
        raise UserInputError(f"scores must be 1-D or 2-D, got {scores.ndim} dimensions")
    classes = predictions.classes or tuple(sorted(universe))  # type: ignore[type-var]
    if len(classes) != scores.shape[1]:
        raise UserInputError(
            f"scores have {scores.shape[1]} columns but there are {len(classes)} classes",
            hint="give `classes` in the order of the score columns",
        )
    return scores, tuple(classes)
