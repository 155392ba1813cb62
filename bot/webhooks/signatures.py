"""Webhook authentication: every check runs on the raw bytes, before anything is parsed.

Comparisons are constant-time (`hmac.compare_digest`). Each check returns `None` when the
delivery is authentic, else a short reason for the log (never the body, never a secret).
Headers come from strangers: every check reads them without raising, whatever they hold
(non-ASCII digits, thousands of characters), and refuses anything not in the expected shape.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

GITHUB_SIGNATURE_PREFIX = "sha256="
MLFLOW_SIGNATURE_VERSION = "v1"
MLFLOW_TOLERANCE_SECONDS = 300
MAX_TIMESTAMP_DIGITS = 12
"""Unix seconds have 10 digits until the year 2286; anything much longer is not a time."""
MAX_DELIVERY_ID_CHARS = 200
MAX_CREDENTIAL_CHARS = 1024
"""Signatures and keys are short; a longer header is refused before any work on it."""
_GITHUB_SIGNATURE_CHARS = len(GITHUB_SIGNATURE_PREFIX) + hashlib.sha256().digest_size * 2


def parse_decimal(text: str | None, max_digits: int) -> int | None:
    """The value of `text` when it is 1 to `max_digits` ASCII digits, else None.

    `str.isdigit` and `int` accept far more (`²`, Arabic-Indic digits, `_`, spaces) and
    `int` raises on thousands of digits: neither may see a header unchecked.
    """
    if text is None or not 0 < len(text) <= max_digits:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def sign_github(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return GITHUB_SIGNATURE_PREFIX + digest


def check_github(secret: str, body: bytes, header: str | None) -> str | None:
    """Check `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex, `sha256=` prefix."""
    if not header:
        return "missing X-Hub-Signature-256"
    if not header.startswith(GITHUB_SIGNATURE_PREFIX) or len(header) != _GITHUB_SIGNATURE_CHARS:
        return "X-Hub-Signature-256 is not a sha256= signature"
    if not hmac.compare_digest(sign_github(secret, body).encode(), header.encode()):
        return "X-Hub-Signature-256 does not match"
    return None


def sign_mlflow(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The `X-MLflow-Signature` value MLflow sends: `v1,` + base64 HMAC of `id.ts.body`."""
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{MLFLOW_SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def check_mlflow(
    secret: str,
    body: bytes,
    *,
    delivery_id: str | None,
    timestamp: str | None,
    header: str | None,
    now: float,
    tolerance_seconds: float = MLFLOW_TOLERANCE_SECONDS,
) -> str | None:
    """Check `X-MLflow-Signature` and refuse timestamps more than the tolerance off `now`."""
    if not delivery_id or not timestamp or not header:
        return "missing X-MLflow-Delivery-Id, X-MLflow-Timestamp or X-MLflow-Signature"
    if len(delivery_id) > MAX_DELIVERY_ID_CHARS:
        return f"X-MLflow-Delivery-Id is longer than {MAX_DELIVERY_ID_CHARS} characters"
    if len(header) > MAX_CREDENTIAL_CHARS:
        return f"X-MLflow-Signature is longer than {MAX_CREDENTIAL_CHARS} characters"
    seconds = parse_decimal(timestamp, MAX_TIMESTAMP_DIGITS)
    if seconds is None:
        return "X-MLflow-Timestamp is not Unix seconds"
    if abs(now - seconds) > tolerance_seconds:
        return f"X-MLflow-Timestamp is more than {tolerance_seconds:.0f} s off"
    expected = sign_mlflow(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected.encode(), header.encode()):
        return "X-MLflow-Signature does not match"
    return None


def check_query_key(expected: str, given: str | None) -> str | None:
    """Check the secret an Event Grid endpoint URL carries as `?key=`, in constant time.

    Event Grid has no shared key for webhook delivery: the subscription's endpoint URL
    holds the secret as a query parameter (or the delivery carries an Entra token).
    https://learn.microsoft.com/en-us/azure/event-grid/security-authentication#using-client-secret-as-a-query-parameter
    """
    if not given:
        return "missing ?key= query parameter"
    if len(given) > MAX_CREDENTIAL_CHARS:
        return f"?key= is longer than {MAX_CREDENTIAL_CHARS} characters"
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "?key= does not match"
    return None
