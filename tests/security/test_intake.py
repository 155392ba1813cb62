"""A stranger on the internet against the three webhook endpoints, over real HTTP: only
authenticated deliveries are parsed, and no request makes intake answer 5xx or show a
traceback. Replays, stale timestamps and oversized bodies are refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.server import ingest as ingest_module
from bot.server.ingest import Ingest
from tests.security.intake import (
    ENDPOINTS,
    LIMIT,
    assert_no_crash,
    azure_headers,
    github_headers,
    intake_log,
    mlflow_headers,
    request_bytes,
    running_service,
    send,
    signed_headers,
)
from tests.server.support import LiveService, push_payload, wait_until
from tests.server.test_webhook_endpoints import declare_huge_body

MODEL_VERSION_CREATED = {
    "entity": "model_version",
    "action": "created",
    "data": {"name": "churn", "version": "3"},
}
MODEL_REGISTERED = {
    "id": "grid-event-1",
    "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
    "data": {"modelName": "churn", "modelVersion": "3"},
}
DEEP = b"[" * 100_000


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with running_service(tmp_path_factory.mktemp("intake")) as live:
        yield live


def post(service: LiveService, path: str, body: bytes, headers: list[Any]) -> Any:
    return send(service, request_bytes(path, headers, body))


def valid_body(path: str) -> bytes:
    """A delivery the endpoint at `path` accepts."""
    if path.endswith("github"):
        return json.dumps(push_payload()).encode()
    if path.endswith("mlflow"):
        return json.dumps(MODEL_VERSION_CREATED).encode()
    return json.dumps([MODEL_REGISTERED]).encode()


# Reproductions: each answered 500 with "Internal Server Error" before.


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param(b"\xb2", id="superscript-two"),
        pytest.param(b"9" * 5000, id="5000-digits"),
        pytest.param("١٢٣".encode(), id="arabic-indic-digits"),
        pytest.param(b"1_700_000_000", id="underscores"),
    ],
)
def test_a_hostile_mlflow_timestamp_is_unauthenticated(
    service: LiveService, caplog: pytest.LogCaptureFixture, timestamp: bytes
) -> None:
    """`str.isdigit` accepts `²` and `int` then raises; 5,000 digits exceed `int`'s limit.
    The timestamp is signed, so only the header's shape can refuse it: 401, logged."""
    body = json.dumps(MODEL_VERSION_CREATED).encode()
    with intake_log(caplog):
        answer = post(service, "/webhooks/mlflow", body, mlflow_headers(body, timestamp=timestamp))
    assert_no_crash(answer)
    assert answer.status == 401
    assert json.loads(answer.body) == {"error": "unauthenticated"}
    assert "X-MLflow-Timestamp is not Unix seconds" in caplog.text


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_signed_body_nested_100000_deep_is_a_bad_request(
    service: LiveService, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """`json.loads` recursed until RecursionError; the depth is now measured first."""
    with intake_log(caplog):
        answer = post(service, path, DEEP, signed_headers(path, DEEP))
    assert_no_crash(answer)
    assert answer.status == 400
    assert "nested deeper than 64 levels" in json.loads(answer.body)["error"]
    assert "refused (400)" in caplog.text


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_signed_body_with_a_5000_digit_integer_is_a_bad_request(
    service: LiveService, path: str
) -> None:
    """Python refuses to read integers of more than 4,300 digits (ValueError, then 500)."""
    body = b'{"entity": ' + b"7" * 5000 + b"}"
    answer = post(service, path, body, signed_headers(path, body))
    assert_no_crash(answer)
    assert answer.status == 400
    assert "more than 40 digits" in json.loads(answer.body)["error"]


def test_a_github_form_payload_nested_100000_deep_is_a_bad_request(service: LiveService) -> None:
    """Form-encoded GitHub deliveries carry their JSON in `payload=`: the same limit holds."""
    body = b"payload=" + b"%5B" * 100_000
    headers = github_headers(body)
    headers[0] = ("Content-Type", "application/x-www-form-urlencoded")
    answer = post(service, "/webhooks/github", body, headers)
    assert_no_crash(answer)
    assert answer.status == 400


def test_a_nul_character_in_an_event_is_a_bad_request(service: LiveService) -> None:
    """PostgreSQL's text columns refuse NUL: the event is refused before the store sees it."""
    payload = {**MODEL_VERSION_CREATED, "data": {"name": "churn\u0000", "version": "3"}}
    body = json.dumps(payload).encode()
    answer = post(service, "/webhooks/mlflow", body, mlflow_headers(body, delivery_id="nul-1"))
    assert_no_crash(answer)
    assert answer.status == 400
    assert service.store.list_events() == []


# The request-level guard: whatever goes wrong inside intake, the sender sees no 500.


def _explode(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("a bug inside intake")


@pytest.mark.parametrize(
    ("path", "target", "status"),
    [
        ("/webhooks/github", "check_github", 401),
        ("/webhooks/mlflow", "check_mlflow", 401),
        ("/webhooks/azure", "check_query_key", 401),
        ("/webhooks/github", "parse_github", 400),
        ("/webhooks/mlflow", "parse_mlflow", 400),
        ("/webhooks/azure", "parse_event_grid", 400),
    ],
)
def test_an_unexpected_exception_in_intake_is_a_logged_refusal(
    service: LiveService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    target: str,
    status: int,
) -> None:
    """A bug while authenticating refuses (401), while parsing is a bad request (400); the
    log has the traceback, the answer does not."""
    monkeypatch.setattr(ingest_module, target, _explode)
    body = valid_body(path)
    with intake_log(caplog):
        answer = post(service, path, body, signed_headers(path, body))
    assert_no_crash(answer)
    assert answer.status == status
    assert b"a bug inside intake" not in answer.body
    assert f"refused ({status})" in caplog.text
    assert any(r.exc_info is not None or "RuntimeError" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_an_exception_escaping_a_route_is_a_logged_bad_request(
    service: LiveService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    """The last line of defence, around each whole route."""
    monkeypatch.setattr(Ingest, "accept", _explode)
    body = valid_body(path)
    with intake_log(caplog):
        answer = post(service, path, body, signed_headers(path, body))
    assert_no_crash(answer)
    assert answer.status == 400
    records = [r for r in caplog.records if "intake failed with RuntimeError" in r.getMessage()]
    assert records and records[0].exc_info is not None


def test_an_event_store_that_fails_answers_503_so_the_sender_retries(
    service: LiveService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the sender's fault: Event Grid and MLflow deliver again after a 5xx, not a 4xx."""
    monkeypatch.setattr(service.store, "submit", _explode)
    body = json.dumps(MODEL_VERSION_CREATED).encode()
    with intake_log(caplog):
        answer = post(service, "/webhooks/mlflow", body, mlflow_headers(body, delivery_id="s-1"))
    assert answer.status == 503
    assert b"Traceback" not in answer.body
    assert "not stored (503)" in caplog.text


# What held before and must keep holding, for each endpoint.


def test_forged_deliveries_are_refused_and_nothing_is_stored(
    service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret or key on each endpoint: 401, logged, never parsed or stored."""
    before = len(service.store.list_events())
    github_body = json.dumps(push_payload()).encode()
    mlflow_body = json.dumps(MODEL_VERSION_CREATED).encode()
    azure_body = json.dumps([MODEL_REGISTERED]).encode()
    forged = [
        ("/webhooks/github", github_body, github_headers(github_body, secret="wrong")),
        ("/webhooks/mlflow", mlflow_body, mlflow_headers(mlflow_body, secret="wrong")),
        ("/webhooks/azure", azure_body, azure_headers(key="wrong")),
    ]
    with intake_log(caplog):
        for path, body, headers in forged:
            answer = post(service, path, body, headers)
            assert_no_crash(answer)
            assert answer.status == 401, path
    assert caplog.text.count("refused (401)") == 3
    assert len(service.store.list_events()) == before


def test_a_replayed_delivery_is_acknowledged_once_on_each_endpoint(service: LiveService) -> None:
    """The same delivery id (GitHub, MLflow) or event id (Event Grid) is stored once."""
    github_body = json.dumps(push_payload(after="e")).encode()
    azure_body = json.dumps([{**MODEL_REGISTERED, "id": "replayed-grid"}]).encode()
    for attempt in range(2):
        mlflow_body = json.dumps(MODEL_VERSION_CREATED).encode()
        answers = [
            post(
                service,
                "/webhooks/github",
                github_body,
                github_headers(github_body, delivery_id="replayed-gh"),
            ),
            post(
                service,
                "/webhooks/mlflow",
                mlflow_body,
                mlflow_headers(mlflow_body, delivery_id="replayed-ml"),
            ),
            post(service, "/webhooks/azure", azure_body, azure_headers()),
        ]
        expected = 202 if attempt == 0 else 200
        assert [a.status for a in answers] == [expected] * 3
    delivered = {"replayed-gh", "replayed-ml", "replayed-grid"}
    wait_until(lambda: delivered <= set(service.delivered()), what="the three deliveries")
    assert sorted(d for d in service.delivered() if d in delivered) == sorted(delivered)


@pytest.mark.parametrize("offset", [-3600, -301, 301, 10**9])
def test_a_stale_or_future_mlflow_timestamp_is_refused(
    service: LiveService, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    """A captured delivery cannot be replayed later, nor a pre-dated one sent ahead."""
    body = json.dumps(MODEL_VERSION_CREATED).encode()
    stamp = str(int(time.time()) + offset)
    with intake_log(caplog):
        answer = post(service, "/webhooks/mlflow", body, mlflow_headers(body, timestamp=stamp))
    assert answer.status == 401
    assert "s off" in caplog.text


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_declared_oversized_body_is_refused_with_413(
    service: LiveService, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """Content-Length over the limit: 413 before any of the body is read, and logged."""
    with intake_log(caplog):
        answer = declare_huge_body(service.url, path, LIMIT + 1)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert "refused (413)" in caplog.text


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_streamed_oversized_body_is_refused_with_413(service: LiveService, path: str) -> None:
    """Chunked, without Content-Length, signed: the limit applies while reading."""
    body = b'{"pad": "' + b"x" * LIMIT + b'"}'
    chunked = b"".join(
        f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        for piece in (body[i : i + 8192] for i in range(0, len(body), 8192))
    )
    headers = [*signed_headers(path, body), ("Transfer-Encoding", "chunked")]
    request = request_bytes(path, headers, chunked + b"0\r\n\r\n", content_length=False)
    answer = send(service, request)
    assert answer.status == 413


def test_refusals_show_in_the_delivery_metrics(service: LiveService) -> None:
    """Operators see hostile traffic as counts, by outcome."""
    body = b"[" * 100
    post(service, "/webhooks/azure", body, azure_headers())
    rendered = service.client.get("/metrics").text
    assert 'outcome="malformed",source="azure"' in rendered


def test_the_log_of_a_refused_delivery_never_shows_its_body(
    service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    """Bodies can carry secrets of others; the log names the reason only."""
    body = b'{"entity": "model_version", "action": "created", "data": [["secret-token-42"'
    with intake_log(caplog):
        post(service, "/webhooks/mlflow", body, mlflow_headers(body, secret="wrong"))
        post(service, "/webhooks/mlflow", body, mlflow_headers(body))
    assert "secret-token-42" not in caplog.text
