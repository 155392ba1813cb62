"""Shared pieces of minimal payload parsing: the base model and the payload error."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import PromobotError


class PayloadError(PromobotError):
    """An authenticated delivery whose body promobot cannot read (answered with 400)."""


class Foreign(BaseModel):
    """A slice of someone else's payload: only the fields promobot uses, the rest ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


def decode_json(body: bytes) -> Any:
    """The JSON document in `body`, or `PayloadError`."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(f"body is not valid JSON: {error}") from None


def describe_validation_error(error: ValidationError, what: str) -> PayloadError:
    """A `PayloadError` naming the first missing or malformed field."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    return PayloadError(f"{what}: field `{where}`: {first['msg']}")
