"""Request bodies into DataFrames, model outputs into JSON: parsed minimally, checked clearly."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from mlflow.types import ColSpec, DataType

from bot.serving.errors import BadPayload

_EXPECTED = (
    'send {"records": [{"column": value, ...}, ...]}, a bare list of such records, or '
    '{"dataframe_split": {"columns": [...], "data": [[...], ...]}}'
)
_FLOATS = {DataType.double: "float64", DataType.float: "float32"}


def frame_from_payload(payload: Any, widen: Mapping[str, str]) -> Any:
    """The rows of a request as a DataFrame, integer columns widened to the floats `widen` names.

    JSON has one number type, so `1` for a double column arrives as an integer,
    which MLflow's schema enforcement refuses; widening it is what a client meant.
    """
    if isinstance(payload, dict) and "dataframe_split" in payload:
        frame = _from_split(payload["dataframe_split"])
    else:
        records = payload
        if isinstance(payload, dict):
            records = payload.get("records", payload.get("dataframe_records"))
        frame = _from_records(records)
    if frame.empty:
        raise BadPayload("the request holds no rows to score", hint=_EXPECTED)
    for name, dtype in widen.items():
        column = frame.get(name)
        if column is not None and column.dtype.kind in "iu":
            frame[name] = column.astype(dtype)
    return frame


def float_columns(schema: Any | None) -> dict[str, str]:
    """Column -> float dtype for the double and float columns of a signature."""
    found: dict[str, str] = {}
    for spec in schema.inputs if schema is not None else ():
        if isinstance(spec, ColSpec) and spec.name and isinstance(spec.type, DataType):
            dtype = _FLOATS.get(spec.type)
            if dtype is not None:
                found[spec.name] = dtype
    return found


def _from_records(records: Any) -> Any:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BadPayload("the request body is not a list of records", hint=_EXPECTED)
    return pd.DataFrame.from_records(records)


def _from_split(split: Any) -> Any:
    if not isinstance(split, dict) or not isinstance(split.get("data"), list):
        raise BadPayload('"dataframe_split" needs "columns" and "data"', hint=_EXPECTED)
    columns = split.get("columns")
    if columns is not None and not isinstance(columns, list):
        raise BadPayload('"dataframe_split.columns" must be a list of names', hint=_EXPECTED)
    try:
        return pd.DataFrame(split["data"], columns=columns)
    except (ValueError, TypeError) as exc:
        raise BadPayload(f'"dataframe_split" does not form a table: {exc}', hint=_EXPECTED) from exc


def synthesise_rows(schema: Any | None) -> Any | None:
    """One row built from a column signature, or None when there is none to build from."""
    if schema is None or not schema.inputs:
        return None
    columns: dict[str, DataType] = {}
    for spec in schema.inputs:
        if not (isinstance(spec, ColSpec) and spec.name and isinstance(spec.type, DataType)):
            return None
        columns[spec.name] = spec.type
    row = {name: _zero(kind) for name, kind in columns.items()}
    return pd.DataFrame([row]).astype({name: kind.to_pandas() for name, kind in columns.items()})


def _zero(kind: DataType) -> Any:
    if kind in (DataType.string,):
        return ""
    if kind in (DataType.binary,):
        return b""
    if kind in (DataType.boolean,):
        return False
    if kind in (DataType.datetime,):
        return pd.Timestamp(0)
    return 0


def count_rows(data: Any) -> int | None:
    """Rows in a model input or output, when it has a length."""
    try:
        return len(data)
    except TypeError:
        return None


def to_json(output: Any) -> Any:
    """A model's output as plain JSON values (NaN becomes null)."""
    if isinstance(output, pd.DataFrame):
        return json.loads(output.to_json(orient="records"))
    if isinstance(output, pd.Series | np.ndarray):
        return _plain(output.tolist())
    return _plain(output)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray | pd.Series):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
