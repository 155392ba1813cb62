"""Shared pieces of minimal payload parsing: the base model, the payload error and JSON
decoding that no body can crash: nesting depth is measured before parsing (in linear time,
without recursion), and numbers that only a hostile sender writes are refused."""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import PromobotError

MAX_JSON_DEPTH = 64
"""Deeper than any delivery GitHub, MLflow or Event Grid sends (GitHub's go about 6 deep);
`json.loads` recurses once per level and raises `RecursionError` near 1,000."""
MAX_INTEGER_DIGITS = 40
"""Ids and counts fit in 20 digits; Python refuses to read more than 4,300 at all."""

# Escapes first: what is left of a string then has no quote inside. An unterminated string
# runs to the end of the text, where `json.loads` stops too.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"?')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class PayloadError(PromobotError):
    """An authenticated delivery whose body promobot cannot read (answered with 400)."""


class Foreign(BaseModel):
    """A slice of someone else's payload: only the fields promobot uses, the rest ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


def decode_json(body: bytes) -> Any:
    """The JSON document in `body`, or `PayloadError`: not UTF-8, not JSON, nested deeper
    than `MAX_JSON_DEPTH`, a number out of range or of more than 40 integer digits."""
    try:
        text = body.decode()
    except UnicodeDecodeError as error:
        raise PayloadError(f"body is not valid JSON: not UTF-8 ({error.reason})") from None
    openings = text.count("[") + text.count("{")
    if openings > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
        raise PayloadError(f"body is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as error:
        raise PayloadError(f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise PayloadError("body is not valid JSON: nested too deeply") from None


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, counting brackets outside
    strings, in linear time and without recursion (0 for a document with none).

    Escapes outside strings, unbalanced brackets and unterminated strings make the count
    differ from a parser's only past the point where `json.loads` fails.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise PayloadError(
            f"body is not valid JSON: an integer has more than {MAX_INTEGER_DIGITS} digits"
        )
    return int(digits)


def _parse_float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise PayloadError(f"body is not valid JSON: {digits[:20]} is out of range")
    return value


def _refuse_constant(name: str) -> NoReturn:
    raise PayloadError(f"body is not valid JSON: `{name}` is not a JSON value")


def describe_validation_error(error: ValidationError, what: str) -> PayloadError:
    """A `PayloadError` naming the first missing or malformed field."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    return PayloadError(f"{what}: field `{where}`: {first['msg']}")
