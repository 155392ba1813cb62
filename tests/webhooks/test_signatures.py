"""Webhook authentication against the senders' documented algorithms."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest

from bot.webhooks.signatures import (
    check_github,
    check_mlflow,
    check_query_key,
    sign_github,
    sign_mlflow,
)

NOW = 1_800_000_000


def test_github_signature_matches_githubs_documented_test_vector(
    read_fixture: Callable[[str], Any],
) -> None:
    """GitHub's own example: secret, payload and expected header from docs.github.com."""
    vector = read_fixture("github/signature-test-vector.json")
    payload = vector["payload"].encode()
    assert sign_github(vector["secret"], payload) == vector["expected_header"]
    assert check_github(vector["secret"], payload, vector["expected_header"]) is None


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha1=757107ea0eb2509fc211221cce984b8a37570b6d", "not a sha256"),
        ("sha256=" + "0" * 64, "does not match"),
        ("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", "match"),
    ],
)
def test_github_refuses_missing_foreign_or_wrong_signatures(
    read_fixture: Callable[[str], Any], header: str | None, reason: str
) -> None:
    """Anything but the exact lower-case hex HMAC is refused, with a reason for the log."""
    vector = read_fixture("github/signature-test-vector.json")
    refused = check_github(vector["secret"], vector["payload"].encode(), header)
    assert refused is not None
    assert reason in refused


def test_github_signature_covers_every_byte_of_the_body() -> None:
    """Re-serialised JSON (other spacing) must not pass: the raw bytes are what is signed."""
    body = b'{"a": 1}'
    assert check_github("s", b'{"a":1}', sign_github("s", body)) is not None


def _mlflow_reference(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` + base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")), as MLflow's
    `mlflow/webhooks/delivery.py` describes it."""
    content = f"{delivery_id}.{timestamp}.".encode() + body
    return (
        "v1,"
        + base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest()).decode()
    )


def test_mlflow_signature_follows_mlflows_algorithm() -> None:
    """The signature MLflow's delivery code sends is accepted."""
    from mlflow.webhooks.delivery import _generate_hmac_signature

    body = b'{"entity": "model_version", "action": "created"}'
    expected = _mlflow_reference("whsec", "3f2a", str(NOW), body)
    assert _generate_hmac_signature("whsec", "3f2a", str(NOW), body.decode()) == expected
    assert sign_mlflow("whsec", "3f2a", str(NOW), body) == expected
    assert (
        check_mlflow(
            "whsec", body, delivery_id="3f2a", timestamp=str(NOW), header=expected, now=NOW
        )
        is None
    )


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-299, True), (299, True), (-301, False), (301, False)]
)
def test_mlflow_refuses_timestamps_more_than_five_minutes_off(offset: int, accepted: bool) -> None:
    """A captured delivery cannot be replayed later (nor pre-dated)."""
    timestamp = str(NOW + offset)
    header = sign_mlflow("k", "id", timestamp, b"{}")
    refused = check_mlflow(
        "k", b"{}", delivery_id="id", timestamp=timestamp, header=header, now=NOW
    )
    assert (refused is None) is accepted


@pytest.mark.parametrize(
    ("delivery_id", "timestamp", "header"),
    [
        (None, str(NOW), "v1,x"),
        ("id", None, "v1,x"),
        ("id", str(NOW), None),
        ("id", "1.8e9", "v1,x"),
        ("other-id", str(NOW), sign_mlflow("k", "id", str(NOW), b"{}")),
        ("id", str(NOW), sign_mlflow("other-key", "id", str(NOW), b"{}")),
    ],
)
def test_mlflow_refuses_incomplete_or_forged_deliveries(
    delivery_id: str | None, timestamp: str | None, header: str | None
) -> None:
    """The delivery id and timestamp are signed: changing either breaks the signature."""
    refused = check_mlflow(
        "k", b"{}", delivery_id=delivery_id, timestamp=timestamp, header=header, now=NOW
    )
    assert refused is not None


def test_shared_key_must_be_present_and_equal() -> None:
    """Event Grid deliveries carry the key configured on the subscription."""
    assert check_query_key("key-1", "key-1") is None
    assert check_query_key("key-1", "key-2") is not None
    assert check_query_key("key-1", None) is not None
    assert check_query_key("key-1", "") is not None
