"""The labelled evaluation data: CSV or Parquet, read once, in chunks of rows.

Reading keeps one chunk of about 64 MB of values in memory (plus, for Parquet,
the row group being decoded; the evaluation itself keeps the labels and scores
its curves need, about 50 bytes a row for a binary task): a CSV is read with pandas' chunked
reader, a Parquet file batch by batch with
`pyarrow.parquet.ParquetFile.iter_batches`. The file's SHA-256 is taken from
the bytes those readers read, as they pass (`FileDigest`), so the data is not
read a second time for its digest.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import pyarrow as pa
import pyarrow.parquet as pq

from bot.errors import UserInputError
from bot.evaluation.checks import BadData, missing_label, no_rows

BATCH_BYTES = 64 * 2**20
"""Rows are read in chunks of about this many bytes of float64 values (at least 1,024 rows)."""
_CSV_COMPRESSION = {".csv": None, ".csv.gz": "gzip", ".csv.bz2": "bz2", ".csv.zst": "zstd"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_BLOCK = 1 << 20
_NEAR = 1 << 20
"""A read that starts at most this far past the digested bytes digests the gap on the way."""


@dataclass(frozen=True)
class DataSource:
    """A checked evaluation file: it exists, has a known format and the label column.

    `name` is how messages call the file: the path as the user gave it, or the
    dataset name a policy gives.
    """

    path: Path
    label: str
    kind: str
    columns: tuple[str, ...]
    rows: int | None
    name: str

    @property
    def batch_rows(self) -> int:
        """Rows per chunk so that a chunk of float64 values stays near `BATCH_BYTES`."""
        return max(1024, BATCH_BYTES // (8 * len(self.columns)))

    @property
    def compression(self) -> str | None:
        """pandas' name of a CSV file's compression."""
        lowered = self.path.name.lower()
        return next(
            (method for suffix, method in _CSV_COMPRESSION.items() if lowered.endswith(suffix)),
            None,
        )


def _kind(path: Path, name: str) -> str:
    lowered = path.name.lower()
    if lowered.endswith(tuple(_CSV_COMPRESSION)):
        return "csv"
    if lowered.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise UserInputError(
        f"{name}: unknown data format",
        hint="give a CSV (.csv) or Parquet (.parquet) file",
    )


def open_data(path: Path, label: str, name: str | None = None) -> DataSource:
    """Check the file and its label column without reading the rows."""
    name = str(path) if name is None else name
    if not path.is_file():
        raise UserInputError(f"{name}: no such file", hint="check the --data path")
    kind = _kind(path, name)
    try:
        if kind == "parquet":
            metadata = pq.ParquetFile(path)
            columns = tuple(metadata.schema_arrow.names)
            rows: int | None = metadata.metadata.num_rows
        else:
            columns = tuple(str(c) for c in pd.read_csv(path, nrows=0).columns)
            rows = None
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise UserInputError(f"{name}: cannot read it as {kind}: {error}") from error
    if label not in columns:
        raise BadData(
            missing_label(name, label, columns),
            hint="name the column that holds the true values",
        )
    if rows == 0:
        raise BadData(no_rows(name), hint="evaluate on a file with labelled rows")
    return DataSource(path=path, label=label, kind=kind, columns=columns, rows=rows, name=name)


def iter_batches(
    source: DataSource, batch_rows: int | None = None, digest: FileDigest | None = None
) -> Iterator[pd.DataFrame]:
    """The rows as DataFrames of at most `batch_rows` rows (default: `source.batch_rows`).

    With `digest`, the file is read through it, so that `digest.hexdigest()`
    afterwards costs no second read of the rows. A file that cannot be parsed
    part-way (a CSV row with too many fields, bytes that are not UTF-8)
    raises `BadData`.
    """
    size = batch_rows or source.batch_rows
    stream = None if digest is None else digest.open()
    try:
        file: Any = source.path if stream is None else stream
        if source.kind == "parquet":
            for batch in pq.ParquetFile(file).iter_batches(batch_size=size):
                yield batch.to_pandas()
            return
        with pd.read_csv(file, chunksize=size, compression=source.compression) as reader:
            yield from reader
    except (
        pd.errors.ParserError,
        UnicodeDecodeError,
        pa.ArrowException,
        EOFError,
        OSError,
        zlib.error,
    ) as error:
        # A damaged file (truncated, a corrupt gzip or Parquet row group) is bad data too.
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadData(f"{source.name}: cannot read it as {source.kind}: {first_line}") from error
    finally:
        if stream is not None:
            stream.close()


@contextmanager
def read_ahead(frames: Iterator[pd.DataFrame]) -> Iterator[Iterator[pd.DataFrame]]:
    """`frames`, read in a thread of their own one chunk ahead of their consumer.

    pyarrow's decoding and pandas' CSV parser run mostly without the GIL, so
    the next chunk is read while the current one is scored, and the first one
    while the models load. At most one chunk waits between the two threads;
    leaving the block stops the reader and closes the file, and an error of
    the reader is raised in the consumer.
    """
    reader = _ReadAhead(frames)
    try:
        yield iter(reader)
    finally:
        reader.stop()


class _ReadAhead:
    _END = object()
    _OFFER_SECONDS = 0.05

    def __init__(self, frames: Iterator[pd.DataFrame]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(frames,), name="promobot-read-ahead", daemon=True
        )
        self._thread.start()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        while (item := self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        """Stop reading and wait for the reader to close the file."""
        self._stopped.set()
        self._thread.join()

    def _read(self, frames: Iterator[pd.DataFrame]) -> None:
        try:
            for frame in frames:
                if not self._offer(frame):
                    return
            self._offer(self._END)
        except BaseException as error:  # handed to the consumer, which raises it
            self._offer(error)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    def _offer(self, item: object) -> bool:
        """Hand `item` over once the consumer has room; False when the consumer left."""
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=self._OFFER_SECONDS)
            except queue.Full:
                continue
            return True
        return False


class FileDigest:
    """SHA-256 of a file's bytes, taken from the reads made through `open()`.

    A read that continues the digested bytes (or starts just past them) is
    digested on its way to the reader; a read far ahead, such as the Parquet
    footer read first, is not. `hexdigest()` reads whatever was not digested:
    with sequential readers (pandas' CSV reader, pyarrow's row-group reads)
    that is the Parquet footer, a few kilobytes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sha = hashlib.sha256()
        self._done = 0
        self._lock = threading.Lock()

    def open(self) -> _DigestingFile:
        """A binary file object that pandas and pyarrow read the data through."""
        return _DigestingFile(self)

    def read_at(self, file: BinaryIO, offset: int, size: int) -> bytes:
        """`size` bytes of `file` from `offset` (fewer at the end), digested as they pass."""
        with self._lock:
            if self._done < offset <= self._done + _NEAR:
                self._digest_file(file, offset)
            data = _read_at(file, offset, size)
            end = offset + len(data)
            if offset <= self._done < end:
                self._sha.update(memoryview(data)[self._done - offset :])
                self._done = end
            return data

    def hexdigest(self) -> str:
        """The digest of the whole file, reading the bytes no reader read."""
        with self._lock, self.path.open("rb", buffering=0) as file:
            self._digest_file(file, os.fstat(file.fileno()).st_size)
            return self._sha.hexdigest()

    def _digest_file(self, file: BinaryIO, until: int) -> None:
        while self._done < until:
            block = _read_at(file, self._done, min(_BLOCK, until - self._done))
            if not block:
                break
            self._sha.update(block)
            self._done += len(block)


def _read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    """Up to `size` bytes from `offset`: fewer only at the end of the file."""
    file.seek(offset)
    parts = []
    while size > 0 and (part := file.read(size)):
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


class _DigestingFile(io.RawIOBase):
    """A read-only file whose reads feed a `FileDigest`."""

    def __init__(self, digest: FileDigest) -> None:
        super().__init__()
        self._digest = digest
        self._file = digest.path.open("rb", buffering=0)
        self._size = os.fstat(self._file.fileno()).st_size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        wanted = self._size - self._position if size is None or size < 0 else size
        data = self._digest.read_at(self._file, self._position, max(wanted, 0))
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def sha256_file(path: Path, block_size: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(block_size):
            digest.update(block)
    return digest.hexdigest()
