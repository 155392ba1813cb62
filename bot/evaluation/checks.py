"""Checks of the evaluation data, made on each chunk as it streams by.

Each refusal is one line that names the data, the column and the rows, for
example `data.csv: column "tenure" has NaN in rows 3, 17, 42 (and 5 more)`.
Rows are counted from 1, the first row after the header.

- A label that is missing (NaN, an empty cell) or infinite is refused.
- A feature that is NaN or infinite is refused when a model refuses it: a
  model that takes missing values (HistGradientBoosting, a pipeline with an
  imputer) is given them, as it would be in production.
- No rows at all, a label column with a single class when the models are
  classifiers, and a column that a model reads but the data lacks are refused.

Every chunk is scanned once, before it is scored; once a problem is found the
remaining chunks are still scanned (not scored), so that the message counts
every affected row while the file is read only once.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from bot.errors import UserInputError

LISTED_ROWS = 3
"""Rows named in a message; the others are counted."""
LISTED_COLUMNS = 10
"""Columns named when a message lists the data's columns."""
LISTED_PROBLEMS = 3
"""Columns with bad values described in a message; the others are counted."""
NAN = "NaN"
EMPTY = "empty"
INFINITE = "infinite"
_KIND_WORDS = {NAN: ("NaN", "NaN"), EMPTY: ("an empty value", "empty values")}
_KIND_WORDS[INFINITE] = ("an infinite value", "infinite values")


class BadData(UserInputError):
    """The evaluation data cannot be used as it is; the message names the column and the rows."""


def quoted(column: Hashable) -> str:
    """A column name in double quotes, as the messages show it."""
    return json.dumps(str(column), ensure_ascii=False)


def listed_columns(columns: Sequence[Hashable]) -> str:
    """The first columns of the data, quoted, and how many more there are."""
    shown = ", ".join(quoted(c) for c in columns[:LISTED_COLUMNS])
    more = len(columns) - LISTED_COLUMNS
    return f"{shown} (and {more} more)" if more > 0 else shown


@dataclass
class Finding:
    """Rows of one column that hold one kind of bad value."""

    first_rows: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, rows: npt.NDArray[np.intp], offset: int) -> None:
        """Count `rows` (0-based within a chunk that starts after `offset` rows)."""
        room = LISTED_ROWS - len(self.first_rows)
        self.first_rows.extend(int(r) + offset + 1 for r in rows[:room])
        self.count += int(rows.size)

    def describe(self, kind: str) -> str:
        """`NaN in rows 3, 17, 42 (and 5 more)`."""
        what = _KIND_WORDS[kind][0 if self.count == 1 else 1]
        rows = ", ".join(str(r) for r in self.first_rows)
        more = self.count - len(self.first_rows)
        noun = "row" if self.count == 1 else "rows"
        return f"{what} in {noun} {rows}" + (f" (and {more} more)" if more else "")


def bad_values(column: pd.Series) -> Iterable[tuple[str, npt.NDArray[np.intp]]]:
    """(kind, positions) of the missing and infinite values of one column."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = column.to_numpy()
        finite = np.isfinite(values)
        if finite.all():
            return
        missing = np.isnan(values)
        yield NAN, np.flatnonzero(missing)
        yield INFINITE, np.flatnonzero(~finite & ~missing)
        return
    missing = column.isna().to_numpy(dtype=bool)
    if missing.any():
        kind = NAN if pd.api.types.is_float_dtype(dtype) else EMPTY
        yield kind, np.flatnonzero(missing)


class DataChecks:
    """What is wrong with the data so far, gathered chunk by chunk.

    `name` is how messages call the data (a path as the user gave it, or the
    dataset name a policy gives); `readers` maps each model's name to the
    columns it reads (None: every column besides the label).
    """

    def __init__(self, name: str, label: str, readers: Mapping[str, Sequence[str] | None]) -> None:
        self.name = name
        self.label = label
        self.readers = dict(readers)
        self.rows = 0
        self._columns: tuple[Hashable, ...] | None = None
        self._findings: dict[tuple[Hashable, str], Finding] = {}
        self._in_chunk: set[Hashable] = set()
        self._refused: set[Hashable] = set()

    @property
    def is_refused(self) -> bool:
        """A label is bad or a model refused a value: the remaining chunks are only scanned."""
        return bool(self._refused)

    def inspect(self, frame: pd.DataFrame) -> None:
        """Scan one chunk (columns on the first one) and count its rows."""
        if self._columns is None:
            self._columns = tuple(frame.columns)
            self._check_columns()
        self._in_chunk = set()
        for column, values in frame.items():
            for kind, rows in bad_values(values):
                if rows.size:
                    self._findings.setdefault((column, kind), Finding()).add(rows, self.rows)
                    self._in_chunk.add(column)
        if self.label in self._in_chunk:
            self._refused.add(self.label)
        self.rows += len(frame)

    def explains_refusal(self, reader: str) -> bool:
        """After `reader` failed on the last chunk: True when bad values it reads explain it."""
        columns = self.readers.get(reader)
        read = set(self._feature_columns() if columns is None else columns)
        found = read & self._in_chunk
        self._refused |= found
        return bool(found)

    def finish(self, label_counts: Mapping[Hashable, int] | None) -> None:
        """Raise `BadData` for refused values, no rows, or a single class among the labels."""
        if self._refused:
            raise BadData(
                self._describe_refusal(),
                hint="drop or fill those rows; a model that takes missing values is given them",
            )
        if self.rows == 0:
            raise BadData(no_rows(self.name), hint="evaluate on a file with labelled rows")
        if label_counts is not None and len(label_counts) == 1:
            (only, count), *_ = label_counts.items()
            raise BadData(
                f"{self.name}: column {quoted(self.label)} holds only the class {only!r} "
                f"(all {count} rows); comparing classifiers needs rows of at least two classes",
                hint="evaluate on rows that hold every class the models predict",
            )

    def _feature_columns(self) -> list[Hashable]:
        return [c for c in self._columns or () if c != self.label]

    def _check_columns(self) -> None:
        columns = self._columns or ()
        if self.label not in columns:
            raise BadData(
                missing_label(self.name, self.label, columns),
                hint="name the column that holds the true values",
            )
        for reader, needs in self.readers.items():
            missing = [c for c in needs or () if c not in columns]
            if missing:
                names = ", ".join(quoted(c) for c in missing)
                noun = "column" if len(missing) == 1 else "columns"
                raise BadData(
                    f"{self.name}: no {noun} {names}, which {reader} reads; "
                    f"the columns are {listed_columns(columns)}",
                    hint="evaluate on data with every column the models were trained on",
                )

    def _describe_refusal(self) -> str:
        order = [self.label, *self._feature_columns()]
        parts = []
        for column in (c for c in order if c in self._refused):
            found = [
                finding.describe(kind)
                for (name, kind), finding in self._findings.items()
                if name == column
            ]
            parts.append(f"column {quoted(column)} has {' and '.join(found)}")
        shown = parts[:LISTED_PROBLEMS]
        more = len(parts) - len(shown)
        if more:
            shown.append(f"and {more} more column" + ("s" if more > 1 else ""))
        return f"{self.name}: {'; '.join(shown)}"


def no_rows(name: str) -> str:
    """The message for data that has column names and no rows."""
    return f"{name}: no rows to evaluate, only the column names"


def missing_label(name: str, label: str, columns: Sequence[Hashable]) -> str:
    """The message for data without the label column."""
    return f"{name}: no label column {quoted(label)}; the columns are {listed_columns(columns)}"
