"""Hostile requests to the real service over a raw socket, so that nothing a client library
would refuse to send (bytes outside ASCII, broken lengths, thousands of headers) is out of
reach, and what every answer must hold: no 5xx, no traceback, the refusal logged."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.webhooks.signatures import sign_github, sign_mlflow
from tests.server.support import (
    AZURE_KEY,
    GITHUB_SECRET,
    MLFLOW_SECRET,
    LiveService,
    live_service,
)

LIMIT = 1024 * 1024
"""The body limit of the services these tests start (the hostile bodies fit under it)."""
PER_REQUEST_SECONDS = 20.0
"""A generous bound: the slowest hostile request here takes well under a second."""
ENDPOINTS = ("/webhooks/github", "/webhooks/mlflow", "/webhooks/azure")
TRACEBACK_SIGNS = (b"Traceback", b'File "', b"most recent call last")

Header = tuple[str | bytes, str | bytes]


@contextmanager
def running_service(tmp_path: Path) -> Iterator[LiveService]:
    """The whole service over HTTP with a 1 MiB body limit."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with live_service(url, tmp_path, max_body_bytes=LIMIT) as live:
        yield live


@dataclass(frozen=True)
class Answer:
    """What came back on the socket: status (None when the server closed without one)."""

    status: int | None
    body: bytes
    seconds: float


def request_bytes(
    path: str,
    headers: list[Header],
    body: bytes = b"",
    *,
    method: str = "POST",
    content_length: bool = True,
) -> bytes:
    """An HTTP/1.1 request exactly as given (text in UTF-8, bytes as they are), with Host,
    Connection: close and (unless told not to) the body's Content-Length added."""
    keys = [value for name, value in headers if name == QUERY_KEY]
    headers = [(name, value) for name, value in headers if name != QUERY_KEY]
    target = path.encode()
    for key in keys:
        raw_key = key.encode() if isinstance(key, str) else key
        target += (
            (b"&" if b"?" in target else b"?")
            + b"key="
            + urllib.parse.quote_from_bytes(raw_key, safe="").encode()
        )
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    if content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    for name, value in headers:
        raw_name = name.encode() if isinstance(name, str) else name
        raw_value = value.encode() if isinstance(value, str) else value
        lines.append(raw_name + b": " + raw_value)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def send(service: LiveService, request: bytes, *, end_early: bool = False) -> Answer:
    """Send `request` on a new connection and read the answer until the server closes;
    `end_early` closes the sending side at once, as a client that stops mid-body does
    (the server may then have no one to answer)."""
    host, port = service.url.removeprefix("http://").split(":")
    started = time.monotonic()
    received = bytearray()
    with socket.create_connection((host, int(port)), timeout=PER_REQUEST_SECONDS) as connection:
        # The server may answer (413, 400) and close before it has read all of the request.
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            connection.sendall(request)
            if end_early:
                connection.shutdown(socket.SHUT_WR)
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                received += chunk
    seconds = time.monotonic() - started
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) >= 2 and status_line[1].isdigit() else None
    return Answer(status, body, seconds)


def assert_no_crash(answer: Answer) -> None:
    """No 5xx, no traceback, within the per-request bound."""
    assert answer.status is None or answer.status < 500, answer
    assert not any(sign in answer.body for sign in TRACEBACK_SIGNS), answer.body[:500]
    assert answer.seconds < PER_REQUEST_SECONDS, answer


@contextmanager
def intake_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, also hearing uvicorn, whose loggers do not propagate to the root."""
    server_logger = logging.getLogger("uvicorn")
    server_logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING)
    try:
        yield caplog
    finally:
        server_logger.removeHandler(caplog.handler)


def assert_refusal_logged(caplog: pytest.LogCaptureFixture, answer: Answer) -> None:
    """The service (or the HTTP server in front of it) said why it refused."""
    messages = [record.getMessage() for record in caplog.records]
    if answer.status is not None and answer.status >= 400:
        expected = f"refused ({answer.status})"
        uvicorn_refusal = answer.status == 400 and "Invalid HTTP request received." in messages
        assert uvicorn_refusal or any(expected in m for m in messages), messages
    else:
        assert messages, "a refused request left no log line"


def github_headers(
    body: bytes, *, event: str = "push", delivery_id: str = "hostile-1", secret: str = GITHUB_SECRET
) -> list[Header]:
    """GitHub's headers with a valid signature over `body`."""
    return [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", delivery_id),
        ("X-Hub-Signature-256", sign_github(secret, body)),
    ]


def mlflow_headers(
    body: bytes,
    *,
    timestamp: str | bytes | None = None,
    delivery_id: str = "hostile-1",
    secret: str = MLFLOW_SECRET,
) -> list[Header]:
    """MLflow's headers with a signature over id, timestamp and `body`; a timestamp given
    as bytes is sent as those bytes and signed as the text the server reads (Latin-1)."""
    stamp = str(int(time.time())) if timestamp is None else timestamp
    text = stamp.decode("latin-1") if isinstance(stamp, bytes) else stamp
    return [
        ("Content-Type", "application/json"),
        ("X-MLflow-Delivery-Id", delivery_id),
        ("X-MLflow-Timestamp", stamp),
        ("X-MLflow-Signature", sign_mlflow(secret, delivery_id, text, body)),
    ]


QUERY_KEY = ":query-key"
"""Not a header: `request_bytes` puts its value into the request target as `?key=`, where
an Event Grid subscription's endpoint URL carries its secret."""


def azure_headers(key: str = AZURE_KEY) -> list[Header]:
    """Event Grid's headers, and the `?key=` secret of the subscription's endpoint URL."""
    return [("Content-Type", "application/json"), (QUERY_KEY, key)]


def signed_headers(path: str, body: bytes) -> list[Header]:
    """Valid credentials for `body` on the endpoint at `path`."""
    if path.endswith("github"):
        return github_headers(body)
    if path.endswith("mlflow"):
        return mlflow_headers(body)
    return azure_headers()
