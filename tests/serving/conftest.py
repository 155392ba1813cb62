"""Fixtures for the scoring server: real models in a SQLite-backed MLflow, a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.serving.runner import RunningServer, start_in_thread
from bot.targets.local import CanaryCheck, LocalTarget
from tests.support.serving_models import Registry


@pytest.fixture
def start_server(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RunningServer]]:
    """Starts scoring servers in threads (on free ports); stops them after the test."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    running: list[RunningServer] = []

    def start(state_dir: Path | None = None, **options: Any) -> RunningServer:
        server = start_in_thread(
            state_dir=state_dir or tmp_path / "state",
            tracking_uri=registry.tracking_uri,
            **options,
        )
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    """One scoring server with its state under the test's tmp_path."""
    return start_server()


@pytest.fixture
def target(server: RunningServer, registry: Registry) -> Iterator[LocalTarget]:
    """The local target pointed at `server`, with a quick and strict canary check."""
    local = LocalTarget(server.url, registry.tracking_uri, check=CanaryCheck(max_error_rate=0.02))
    yield local
    local.close()


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    """A plain HTTP client of `server`, as a caller of the public API."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
