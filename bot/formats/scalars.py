"""What a YAML scalar means: YAML 1.2's core schema, as ruamel.yaml reads it.

A plain (unquoted) scalar is null, a boolean, an integer or a float when it
looks like one, and text otherwise; a quoted or block scalar is always text.
Dates stay text: no field of a manifest or a policy is a date, and YAML 1.2's
core schema has none. The few standard tags (`!!str`, `!!int`, ...) are
honoured; any other tag is refused by the caller.
"""

from __future__ import annotations

import re
from typing import Any

STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
"""What `!!` stands for."""
STR_TAG = f"{STANDARD_TAG_PREFIX}str"
INT_TAG = f"{STANDARD_TAG_PREFIX}int"
FLOAT_TAG = f"{STANDARD_TAG_PREFIX}float"
BOOL_TAG = f"{STANDARD_TAG_PREFIX}bool"
NULL_TAG = f"{STANDARD_TAG_PREFIX}null"
MAP_TAG = f"{STANDARD_TAG_PREFIX}map"
SEQ_TAG = f"{STANDARD_TAG_PREFIX}seq"
SCALAR_TAGS = frozenset({STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, NULL_TAG})

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0b[01_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)")
_FLOAT = re.compile(
    r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
    r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN)"
)
_BASES = {"0b": 2, "0o": 8, "0x": 16}
_NO_VALUE = object()


class ScalarError(ValueError):
    """A scalar that cannot mean what its tag says, or a number too long to read."""


def _int(text: str) -> int | object:
    body = text.replace("_", "")
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    base = _BASES.get(body[:2], 10)
    digits = body[2:] if base != 10 else body
    if not digits:
        return _NO_VALUE
    try:
        return sign * int(digits, base)
    except ValueError as exc:
        raise ScalarError(f"cannot read {text[:40]!r} as a number: {exc}") from exc


def _float(text: str) -> float:
    body = text.replace("_", "").lower()
    if body.endswith((".inf", ".nan")):
        return float(body.replace(".", ""))
    return float(body)


def resolve_plain(text: str) -> Any:
    """The value of an untagged plain scalar."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if not text or text[0] not in "-+.0123456789":
        return text
    if _INT.fullmatch(text):
        value = _int(text)
        return text if value is _NO_VALUE else value
    if _FLOAT.fullmatch(text):
        return _float(text)
    return text


def resolve_tagged(tag: str, text: str) -> Any:
    """The value of a scalar carrying one of `SCALAR_TAGS`, or `ScalarError`."""
    if tag == STR_TAG:
        return text
    value = resolve_plain(text)
    if tag == FLOAT_TAG and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    expected = {INT_TAG: int, FLOAT_TAG: float, BOOL_TAG: bool, NULL_TAG: type(None)}[tag]
    is_bool_as_int = tag == INT_TAG and isinstance(value, bool)
    if not isinstance(value, expected) or is_bool_as_int:
        name = tag.rsplit(":", 1)[1]
        raise ScalarError(f"{text[:40]!r} is not a valid `!!{name}`; fix the value or drop the tag")
    return value
