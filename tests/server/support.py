"""Running the service for real in tests: uvicorn on a free loopback port, signed deliveries."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from bot.server.app import create_app
from bot.server.metrics import ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.store.sql import SqlEventStore
from bot.webhooks.signatures import sign_github, sign_mlflow
from tests.server.recording import Recorder

GITHUB_SECRET = "gh-secret-for-tests"
MLFLOW_SECRET = "mlflow-secret-for-tests"
AZURE_KEY = "azure-key-for-tests"


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


def make_settings(database_url: str, state_dir: Path, **overrides: Any) -> ServiceSettings:
    """Settings for a test service: every secret set, quick retries, no ticks."""
    values: dict[str, Any] = {
        "state_dir": state_dir,
        "database_url": database_url,
        "github_webhook_secret": SecretStr(GITHUB_SECRET),
        "mlflow_webhook_secret": SecretStr(MLFLOW_SECRET),
        "azure_event_grid_key": SecretStr(AZURE_KEY),
        "workers": 2,
        "tick_seconds": 0,
        "poll_seconds": 0.05,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "lease_seconds": 5.0,
    }
    values.update(overrides)
    return ServiceSettings(**values)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn in a thread; yields its base URL."""
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else ~40 ms per response).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what="uvicorn to start")
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@dataclass
class LiveService:
    """A running service, its store and the recording handler behind it."""

    url: str
    store: SqlEventStore
    recorder: Recorder
    metrics: ServiceMetrics
    client: httpx.Client

    def delivered(self) -> list[str]:
        return [row[0] for row in self.recorder.effects()]


@contextmanager
def live_service(
    database_url: str, tmp_path: Path, *, work_seconds: float = 0.0, **overrides: Any
) -> Iterator[LiveService]:
    """The whole service over HTTP, with the recording handler."""
    settings = make_settings(database_url, tmp_path, **overrides)
    store = SqlEventStore(settings.database_url)
    metrics = ServiceMetrics()
    recorder = Recorder(tmp_path / "effects.db", work_seconds=work_seconds)
    app = create_app(settings, recorder, store=store, metrics=metrics)
    try:
        with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield LiveService(url, store, recorder, metrics, client)
    finally:
        store.close()


def github_delivery(
    event: str, payload: Any, *, delivery_id: str | None = None, secret: str = GITHUB_SECRET
) -> tuple[bytes, dict[str, str]]:
    """Body and headers exactly as GitHub sends them."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign_github(secret, body),
    }
    return body, headers


def mlflow_delivery(
    payload: Any, *, timestamp: int | None = None, delivery_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers as MLflow's webhook delivery sends them."""
    body = json.dumps(payload).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery_id,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign_mlflow(MLFLOW_SECRET, delivery_id, stamp, body),
    }
    return body, headers


def push_payload(repo: str = "octo/models", ref: str = "refs/heads/main", after: str = "b") -> Any:
    """A minimal but real-shaped push payload."""
    return {
        "ref": ref,
        "before": "a" * 40,
        "after": after * 40,
        "repository": {"full_name": repo, "name": repo.split("/")[1]},
        "sender": {"login": "ana"},
    }
