"""The labelled evaluation data: CSV or Parquet, read in chunks of rows.

Memory stays bounded by one chunk of about 64 MB of values (plus, for
Parquet, the row group being decoded): a CSV is read with pandas' chunked
reader, a Parquet file batch by batch with
`pyarrow.parquet.ParquetFile.iter_batches`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq

from bot.errors import UserInputError

BATCH_BYTES = 64 * 2**20
"""Rows are read in chunks of about this many bytes of float64 values (at least 1,024 rows)."""
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class DataSource:
    """A checked evaluation file: it exists, has a known format and the label column."""

    path: Path
    label: str
    kind: str
    columns: tuple[str, ...]
    rows: int | None

    @property
    def batch_rows(self) -> int:
        """Rows per chunk so that a chunk of float64 values stays near `BATCH_BYTES`."""
        return max(1024, BATCH_BYTES // (8 * len(self.columns)))


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise UserInputError(
        f"{path}: unknown data format",
        hint="give a CSV (.csv) or Parquet (.parquet) file",
    )


def open_data(path: Path, label: str) -> DataSource:
    """Check the file and its label column without reading the rows."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such file", hint="check the --data path")
    kind = _kind(path)
    try:
        if kind == "parquet":
            metadata = pq.ParquetFile(path)
            columns = tuple(metadata.schema_arrow.names)
            rows: int | None = metadata.metadata.num_rows
        else:
            columns = tuple(str(c) for c in pd.read_csv(path, nrows=0).columns)
            rows = None
    except (OSError, ValueError) as error:
        raise UserInputError(f"{path}: cannot read it as {kind}: {error}") from error
    if label not in columns:
        raise UserInputError(
            f"{path}: no label column {label!r}; the columns are {list(columns)}",
            hint="pass the name of the column that holds the true values with --label",
        )
    return DataSource(path=path, label=label, kind=kind, columns=columns, rows=rows)


def iter_batches(source: DataSource, batch_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The rows as DataFrames of at most `batch_rows` rows (default: `source.batch_rows`)."""
    offset = 0
    for frame in _frames(source, batch_rows or source.batch_rows):
        _check_labels(frame, source, offset)
        offset += len(frame)
        yield frame


def _frames(source: DataSource, batch_rows: int) -> Iterator[pd.DataFrame]:
    if source.kind == "parquet":
        parquet = pq.ParquetFile(source.path)
        for batch in parquet.iter_batches(batch_size=batch_rows):
            yield batch.to_pandas()
        return
    with pd.read_csv(source.path, chunksize=batch_rows) as reader:
        yield from reader


def _check_labels(frame: pd.DataFrame, source: DataSource, offset: int) -> None:
    missing = frame[source.label].isna().to_numpy()
    if missing.any():
        first = offset + int(missing.nonzero()[0][0]) + 1
        raise UserInputError(
            f"{source.path}: the label column {source.label!r} has an empty value "
            f"in data row {first}",
            hint="drop the rows without a label before evaluating",
        )


def sha256_file(path: Path, block_size: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(block_size):
            digest.update(block)
    return digest.hexdigest()
