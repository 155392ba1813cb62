"""Event Grid deliveries are authenticated as Event Grid authenticates them: a secret in the
endpoint URL's query, or a Microsoft Entra ID token; Event Grid has no shared-key header."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.server.support import AZURE_KEY, LiveService, live_service

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "66666666-7777-8888-9999-000000000000"
EVENT = {
    "id": "grid-event-1",
    "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
    "subject": "models/churn:7",
    "eventTime": "2026-12-01T10:00:00Z",
    "dataVersion": "2",
    "data": {"modelName": "churn", "modelVersion": "7"},
}


class Keys:
    """A tenant's signing keys, served as a JWKS document over HTTP."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        document = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, *, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "aud": APP,
            "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            **claims,
        }
        return jwt.encode(body, key or self.private, algorithm="RS256", headers={"kid": "key-1"})


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    served = Keys()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def service(tmp_path: Path, keys: Keys) -> Iterator[LiveService]:
    with live_service(
        f"sqlite:///{tmp_path / 'events.db'}",
        tmp_path,
        azure_entra_tenant_id=TENANT,
        azure_entra_audience=APP,
        azure_entra_keys_url=keys.url,
    ) as live:
        yield live


def _deliver(service: LiveService, token: str | None = None, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"key": key} if key else {}
    event = {**EVENT, "id": f"grid-{time.monotonic_ns()}"}
    return service.client.post(
        "/webhooks/azure", headers=headers, params=params, json=[event]
    ).status_code


def test_a_token_from_the_tenant_for_the_app_is_accepted(service: LiveService, keys: Keys) -> None:
    assert _deliver(service, keys.token()) == 202
    assert _deliver(service, keys.token(aud=f"api://{APP}")) == 202
    v1_issuer = f"https://sts.windows.net/{TENANT}/"
    assert _deliver(service, keys.token(iss=v1_issuer)) == 202


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-app"},
        {"iss": "https://login.microsoftonline.com/another-tenant/v2.0"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"nbf": int(time.time()) + 3600},
    ],
)
def test_a_token_for_someone_else_or_out_of_time_is_refused(
    service: LiveService, keys: Keys, claims: dict[str, Any]
) -> None:
    assert _deliver(service, keys.token(**claims)) == 401


def test_a_token_signed_by_another_key_is_refused(service: LiveService, keys: Keys) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _deliver(service, keys.token(key=stranger)) == 401


def test_a_delivery_without_a_token_is_refused(service: LiveService) -> None:
    assert _deliver(service) == 401
    assert _deliver(service, key=AZURE_KEY) == 202, "the endpoint URL's key still works"


def test_the_query_key_is_checked_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without Entra, the secret travels in the endpoint URL and must not reach the logs."""
    caplog.set_level(logging.DEBUG)
    with live_service(f"sqlite:///{tmp_path / 'events.db'}", tmp_path) as service:
        assert _deliver(service, key="not-the-key-4711") == 401
        assert _deliver(service, key=AZURE_KEY) == 202
        shared_header = service.client.post(
            "/webhooks/azure", headers={"aeg-sas-key": AZURE_KEY}, json=[EVENT]
        )
        assert shared_header.status_code == 401, "Event Grid sends no aeg-sas-key on delivery"
    # The test's own HTTP client logs its URLs; the service's logs are what count.
    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )
    assert "refused (401)" in logged
    assert "not-the-key-4711" not in logged
    assert AZURE_KEY not in logged


def test_the_access_log_masks_the_query_key() -> None:
    """`promobot serve --access-log` logs request paths; the Event Grid secret is not shown."""
    from bot.cli.serve import QuerySecretMask

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/webhooks/azure?x=1&key=s3cret-value", "1.1", 202),
        None,
    )
    assert QuerySecretMask().filter(record)
    assert "s3cret-value" not in record.getMessage()
    assert "key=***" in record.getMessage()
