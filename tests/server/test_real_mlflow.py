"""A real `mlflow server` delivers its signed `model_version.created` webhook to promobot."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.server.support import MLFLOW_SECRET, live_service, wait_until
from tests.support.http import LOCAL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """`mlflow server` on a SQL backend (webhooks need one), allowed to call loopback."""
    port = free_port()
    env = {
        **os.environ,
        # MLflow refuses plain-HTTP and private-address webhook targets by default.
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        # Webhooks need no job runner (and its worker processes, each importing MLflow).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (tmp_path / "mlflow.log").open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"

    def is_up() -> bool:
        try:
            return LOCAL.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            assert process.poll() is None, (tmp_path / "mlflow.log").read_text()
            return False

    try:
        wait_until(is_up, timeout=120, what="mlflow server to start")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


@pytest.mark.slow
def test_a_real_mlflow_delivery_is_authenticated_and_queued(
    mlflow_server: str, tmp_path: Path
) -> None:
    """MLflow's own signing code (not ours) produces deliveries the endpoint accepts."""
    with live_service(f"sqlite:///{tmp_path / 'events.db'}", tmp_path) as live:
        client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
        client.create_webhook(
            name="promobot",
            url=f"{live.url}/webhooks/mlflow",
            events=["model_version.created"],
            secret=MLFLOW_SECRET,
        )
        client.create_registered_model("churn")
        client.create_model_version("churn", source="s3://models/churn/1", run_id=None)
        wait_until(lambda: len(live.delivered()) == 1, timeout=60, what="MLflow's delivery")
        [(_, kind, key)] = live.recorder.effects()
        assert (kind, key) == ("model_version_created", "model:churn")
        [stored] = live.store.list_events()
        assert (stored.source, stored.payload["model"], stored.payload["version"]) == (
            "mlflow",
            "churn",
            "1",
        )
