"""The pieces of intake parsing that hostile input reaches first, without the server:
header numbers and JSON bodies. Neither may raise anything but its own refusal."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.webhooks.payloads import MAX_JSON_DEPTH, PayloadError, decode_json, json_depth
from bot.webhooks.signatures import check_mlflow, parse_decimal, sign_mlflow

FAST = settings(max_examples=300, derandomize=True, database=None, deadline=None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1700000000", 1_700_000_000),
        ("0", 0),
        ("²", None),
        ("١٢٣", None),
        ("１２３", None),
        ("1_000", None),
        (" 12", None),
        ("-5", None),
        ("+5", None),
        ("", None),
        (None, None),
        ("9" * 13, None),
        ("9" * 5000, None),
    ],
)
def test_header_numbers_are_ascii_digits_of_bounded_length(
    text: str | None, value: int | None
) -> None:
    """`str.isdigit` and `int` accept `²`, other scripts' digits, `_` and spaces."""
    assert parse_decimal(text, 12) == value


@FAST
@given(st.text(max_size=6000))
def test_no_timestamp_header_makes_the_mlflow_check_raise(timestamp: str) -> None:
    """Whatever the header holds, the answer is a reason to refuse or None."""
    header = sign_mlflow("k", "id", timestamp, b"{}")
    check_mlflow("k", b"{}", delivery_id="id", timestamp=timestamp, header=header, now=time.time())


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.sampled_from('[]{}"\\ab\n')),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(st.sampled_from('[]{}"\\'), max_size=4), inner, max_size=3)
    ),
    max_leaves=40,
)


@FAST
@given(json_documents)
def test_the_depth_scan_agrees_with_the_parsed_document(document: object) -> None:
    """Brackets inside strings (escaped quotes included) never count."""
    text = json.dumps(document)
    assert json_depth(text) == depth_of(document)


@FAST
@given(st.binary(max_size=3000) | st.text(st.sampled_from('[]{}",:\\01e-.tnul '), max_size=3000))
def test_any_body_is_a_document_or_a_payload_error(body: bytes | str) -> None:
    """No RecursionError, no ValueError, no UnicodeDecodeError: only `PayloadError`."""
    raw = body.encode() if isinstance(body, str) else body
    with contextlib.suppress(PayloadError):
        decode_json(raw)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b'["\\"", ' + b"[" * 1000,
    ],
)
def test_nesting_past_the_limit_is_refused_before_parsing(body: bytes) -> None:
    with pytest.raises(PayloadError, match="nested deeper than 64 levels"):
        decode_json(body)


def test_nesting_up_to_the_limit_parses() -> None:
    body = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_depth(body.decode()) == MAX_JSON_DEPTH
    decode_json(body)


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"text": "[" * 1000 + '\\"{' * 1000}).encode()
    assert decode_json(body) == {"text": "[" * 1000 + '\\"{' * 1000}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": ' + b"9" * 41 + b"}", "more than 40 digits"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": NaN}', "not a JSON value"),
        (b'{"a": -Infinity}', "not a JSON value"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_values_only_a_hostile_sender_writes_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        decode_json(body)


def test_the_depth_scan_is_linear() -> None:
    """A 4 MB body of brackets and escapes is measured in well under the bound of one
    request (no timing assertion beyond that generous bound)."""
    text = '["\\\\", [], ' * 400_000 + "1]"
    started = time.monotonic()
    json_depth(text)
    assert time.monotonic() - started < 20
