"""Webhook authentication: every check runs on the raw bytes, before anything is parsed.

Comparisons are constant-time (`hmac.compare_digest`). Each check returns `None` when the
delivery is authentic, else a short reason for the log (never the body, never a secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

GITHUB_SIGNATURE_PREFIX = "sha256="
MLFLOW_SIGNATURE_VERSION = "v1"
MLFLOW_TOLERANCE_SECONDS = 300


def sign_github(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return GITHUB_SIGNATURE_PREFIX + digest


def check_github(secret: str, body: bytes, header: str | None) -> str | None:
    """Check `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex, `sha256=` prefix."""
    if not header:
        return "missing X-Hub-Signature-256"
    if not header.startswith(GITHUB_SIGNATURE_PREFIX):
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
    if not timestamp.isdigit():
        return "X-MLflow-Timestamp is not Unix seconds"
    if abs(now - int(timestamp)) > tolerance_seconds:
        return f"X-MLflow-Timestamp is more than {tolerance_seconds:.0f} s off"
    expected = sign_mlflow(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected.encode(), header.encode()):
        return "X-MLflow-Signature does not match"
    return None


def check_shared_key(expected: str, given: str | None) -> str | None:
    """Check a shared key (Azure Event Grid deliveries) in constant time."""
    if not given:
        return "missing shared key (aeg-sas-key header or ?key= query parameter)"
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "shared key does not match"
    return None
