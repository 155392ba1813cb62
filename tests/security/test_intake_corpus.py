"""A corpus of malformed requests to each webhook endpoint, sent over a raw socket: bad
headers, bad JSON, deep JSON, non-UTF-8, wrong content types, huge and broken headers.
Each is refused with the expected 4xx, none gets a 5xx or a traceback, each is logged."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.intake import (
    ENDPOINTS,
    QUERY_KEY,
    Header,
    assert_no_crash,
    assert_refusal_logged,
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

CREDENTIAL_HEADER = {
    "/webhooks/github": "X-Hub-Signature-256",
    "/webhooks/mlflow": "X-MLflow-Signature",
    "/webhooks/azure": QUERY_KEY,
}


@dataclass(frozen=True)
class Case:
    """One malformed request: built when sent (MLflow signs the current time)."""

    name: str
    path: str
    build: Callable[[], bytes]
    statuses: frozenset[int | None]
    end_early: bool = False


def valid_payload(path: str) -> Any:
    """A delivery each endpoint accepts, to be spoiled by a case."""
    if path.endswith("github"):
        return push_payload()
    if path.endswith("mlflow"):
        data = {"name": "m", "version": "1"}
        return {"entity": "model_version", "action": "created", "data": data}
    return [
        {
            "id": "e-1",
            "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
            "data": {"modelName": "m", "modelVersion": "1"},
        }
    ]


def with_nul(path: str) -> bytes:
    payload = valid_payload(path)
    if path.endswith("github"):
        payload["ref"] = "refs/heads/\u0000main"
    elif path.endswith("mlflow"):
        payload["data"]["name"] = "m\u0000"
    else:
        payload[0]["data"]["modelName"] = "m\u0000"
    return json.dumps(payload).encode()


def signed(path: str, body: bytes, content_type: str | None = None) -> Callable[[], bytes]:
    def build() -> bytes:
        headers = signed_headers(path, body)
        if content_type is not None:
            headers = [("Content-Type", content_type), *headers[1:]]
        return request_bytes(path, headers, body)

    return build


def unsigned(path: str, headers: list[Header], body: bytes = b"{}") -> Callable[[], bytes]:
    return lambda: request_bytes(path, headers, body)


def raw(path: str, head: bytes, body: bytes = b"{}") -> Callable[[], bytes]:
    """A request whose framing headers are given as is (no Content-Length added)."""
    return lambda: (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        + head
        + b"\r\n"
        + body
    )


BAD_REQUEST = frozenset({400})
UNAUTHENTICATED = frozenset({401})
HTTP_PARSER = frozenset({400})


def shared_cases(path: str) -> Iterator[Case]:
    """What every endpoint must refuse in the same way."""
    credential = CREDENTIAL_HEADER[path]
    bodies = {
        "empty-body": b"",
        "not-json": b"{not json",
        "non-utf-8": b'{"a": "\xff\xfe"}',
        "utf-16": '{"a": 1}'.encode("utf-16"),
        "byte-order-mark": b"\xef\xbb\xbf{}",
        "deep-arrays": b"[" * 100_000,
        "deep-objects": b'{"a":' * 50_000,
        "balanced-65-deep": b"[" * 65 + b"]" * 65,
        "deep-after-a-string-of-brackets": b'["]]]]",' + b"[" * 1000,
        "5000-digit-integer": b'{"a": ' + b"9" * 5000 + b"}",
        "nan": b'{"a": NaN}',
        "infinite-float": b'{"a": 1e999}',
        "json-null": b"null",
        "json-string": b'"x"',
        "json-number": b"12",
        "nul-in-an-event": with_nul(path),
    }
    for name, body in bodies.items():
        yield Case(f"signed-{name}", path, signed(path, body), BAD_REQUEST)
    multipart = b'--x\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{}\r\n--x--\r\n'
    yield Case(
        "multipart-content-type",
        path,
        signed(path, multipart, "multipart/form-data; boundary=x"),
        BAD_REQUEST,
    )
    yield Case(
        "form-content-type-not-a-form",
        path,
        signed(path, b"[" * 100, "application/x-www-form-urlencoded"),
        BAD_REQUEST,
    )
    yield Case("no-credentials", path, unsigned(path, []), UNAUTHENTICATED)
    yield Case("unsigned-deep-json", path, unsigned(path, [], b"[" * 100_000), UNAUTHENTICATED)
    # Event Grid's secret travels in the URL: one of 1 MB is refused by the HTTP parser.
    too_long = UNAUTHENTICATED | BAD_REQUEST if credential == QUERY_KEY else UNAUTHENTICATED
    yield Case(
        "credential-of-1-MB", path, unsigned(path, [(credential, "a" * 1_000_000)]), too_long
    )
    yield Case(
        "credential-not-ascii",
        path,
        unsigned(path, [(credential, b"sha256=\xe9\xb2\xff" + b"0" * 60)]),
        UNAUTHENTICATED,
    )
    yield Case(
        "5000-headers",
        path,
        unsigned(path, [(f"X-Padding-{i}", "v" * 20) for i in range(5000)]),
        UNAUTHENTICATED,
    )
    framing = {
        "content-length-superscript": b"Content-Length: \xb2\r\n",
        "content-length-5000-digits": b"Content-Length: " + b"9" * 5000 + b"\r\n",
        "content-length-negative": b"Content-Length: -2\r\n",
        "two-content-lengths": b"Content-Length: 2\r\nContent-Length: 3\r\n",
        "content-length-and-chunked": b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        "nul-in-a-header": b"Content-Length: 2\r\nX-GitHub-Delivery: a\x00b\r\n",
        "header-without-colon": b"Content-Length: 2\r\nnot a header\r\n",
    }
    for name, head in framing.items():
        yield Case(name, path, raw(path, head), HTTP_PARSER)
    yield Case(
        "bad-chunk-size",
        path,
        raw(path, b"Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"),
        HTTP_PARSER,
    )
    yield Case(
        "body-shorter-than-declared",
        path,
        raw(path, b"Content-Length: 100\r\n", b"{}"),
        frozenset({400, None}),
        end_early=True,
    )


def mlflow_cases() -> Iterator[Case]:
    path = "/webhooks/mlflow"
    body = json.dumps(valid_payload(path)).encode()
    timestamps = {
        "superscript-two": b"\xb2",
        "5000-digits": b"9" * 5000,
        "arabic-indic-digits": "١٧٠٠٠٠٠٠٠٠".encode(),
        "fullwidth-digits": "１７００".encode(),
        "negative": b"-5",
        "exponent": b"1.7e9",
        "hexadecimal": b"0x10",
        "plus-sign": b"+1700000000",
        "underscores": b"1_700_000_000",
        "13-digits": b"1700000000000",
    }
    for name, stamp in timestamps.items():
        yield Case(
            f"timestamp-{name}",
            path,
            lambda stamp=stamp: request_bytes(path, mlflow_headers(body, timestamp=stamp), body),
            UNAUTHENTICATED,
        )
    yield Case(
        "delivery-id-of-10-KB",
        path,
        lambda: request_bytes(path, mlflow_headers(body, delivery_id="d" * 10_000), body),
        UNAUTHENTICATED,
    )

    def without(header: str) -> Callable[[], bytes]:
        return lambda: request_bytes(
            path, [h for h in mlflow_headers(body) if h[0] != header], body
        )

    for header in ("X-MLflow-Delivery-Id", "X-MLflow-Timestamp", "X-MLflow-Signature"):
        yield Case(f"without-{header}", path, without(header), UNAUTHENTICATED)
    spoiled = {
        "data-is-a-list": {"entity": "model_version", "action": "created", "data": []},
        "version-is-an-object": {
            "entity": "model_version",
            "action": "created",
            "data": {"name": "m", "version": {"v": 1}},
        },
        "entity-of-10-KB": {"entity": "e" * 10_000, "action": "created", "data": {}},
        "no-action": {"entity": "model_version"},
    }
    for name, payload in spoiled.items():
        spoiled_body = json.dumps(payload).encode()
        yield Case(name, path, signed(path, spoiled_body), BAD_REQUEST)


def github_cases() -> Iterator[Case]:
    path = "/webhooks/github"
    body = json.dumps(valid_payload(path)).encode()

    def with_headers(**changes: str | bytes) -> Callable[[], bytes]:
        def build() -> bytes:
            headers = [(n, changes.get(n.replace("-", "_"), v)) for n, v in github_headers(body)]
            return request_bytes(path, headers, body)

        return build

    yield Case(
        "signature-upper-case-hex",
        path,
        with_headers(X_Hub_Signature_256=github_headers(body)[3][1].upper()),
        UNAUTHENTICATED,
    )
    sha1 = "sha1=" + "0" * 40
    yield Case("signature-sha1", path, with_headers(X_Hub_Signature_256=sha1), UNAUTHENTICATED)
    yield Case(
        "signature-not-hex",
        path,
        with_headers(X_Hub_Signature_256="sha256=" + "z" * 64),
        UNAUTHENTICATED,
    )
    yield Case("event-of-10-KB", path, with_headers(X_GitHub_Event="e" * 10_000), BAD_REQUEST)
    yield Case("event-not-ascii", path, with_headers(X_GitHub_Event=b"push\xe9"), BAD_REQUEST)
    yield Case("event-empty", path, with_headers(X_GitHub_Event=""), BAD_REQUEST)
    yield Case(
        "delivery-id-of-10-KB", path, with_headers(X_GitHub_Delivery="d" * 10_000), BAD_REQUEST
    )
    form = "application/x-www-form-urlencoded"
    forms = {
        "form-payload-twice": b"payload=%7B%7D&payload=%7B%7D",
        "form-payload-not-utf-8": b"payload=%FF%FE",
        "form-payload-deep": b"payload=" + b"%5B" * 10_000,
        "form-not-a-form": b"&&&===",
    }
    for name, form_body in forms.items():
        yield Case(name, path, signed(path, form_body, form), BAD_REQUEST)


def azure_cases() -> Iterator[Case]:
    path = "/webhooks/azure"
    body = json.dumps(valid_payload(path)).encode()
    yield Case(
        "key-in-query-not-utf-8",
        path,
        unsigned(path.replace("azure", "azure?key=%FF%FE"), [], body),
        UNAUTHENTICATED,
    )
    yield Case(
        "key-of-2-KB", path, unsigned(path, azure_headers(key="k" * 2048), body), UNAUTHENTICATED
    )
    events = [{"id": str(i), "eventType": "x"} for i in range(5001)]
    spoiled = {
        "5001-events": events,
        "event-without-id": [{"eventType": "x", "data": {}}],
        "validation-code-not-text": [
            {
                "id": "v",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "data": {"validationCode": {"nested": True}},
            }
        ],
        "registered-without-model": [
            {"id": "r", "eventType": "Microsoft.MachineLearningServices.ModelRegistered"}
        ],
        "empty-batch": [],
        "event-id-of-10-KB": [{**valid_payload(path)[0], "id": "i" * 10_000}],
    }
    for name, payload in spoiled.items():
        yield Case(name, path, signed(path, json.dumps(payload).encode()), BAD_REQUEST)
    yield Case(
        "cloudevents-handshake-without-key",
        path,
        lambda: request_bytes(path, [("WebHook-Request-Origin", b"\xe9" * 100)], method="OPTIONS"),
        UNAUTHENTICATED,
    )


CORPUS = [
    *(case for path in ENDPOINTS for case in shared_cases(path)),
    *mlflow_cases(),
    *github_cases(),
    *azure_cases(),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with running_service(tmp_path_factory.mktemp("corpus")) as live:
        yield live


def test_the_corpus_covers_every_endpoint() -> None:
    """Over a hundred cases, at least twenty-five for each endpoint."""
    assert len(CORPUS) > 100
    assert len({case.path.split("?")[0] for case in CORPUS}) == 3
    for path in ENDPOINTS:
        assert sum(case.path.startswith(path) for case in CORPUS) >= 25


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c.path[10:16]}-{c.name}" for c in CORPUS])
def test_a_malformed_request_is_refused_without_a_crash(
    service: LiveService, caplog: pytest.LogCaptureFixture, case: Case
) -> None:
    """No 5xx, no traceback in the answer, the expected refusal, and a log line saying so."""
    with intake_log(caplog):
        answer = send(service, case.build(), end_early=case.end_early)
        assert_no_crash(answer)
        assert answer.status in case.statuses, answer
        if answer.status is None:
            wait_until(lambda: "refused (400)" in caplog.text, timeout=10, what="the refusal log")
        else:
            assert_refusal_logged(caplog, answer)
