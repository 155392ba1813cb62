"""`promobot serve-models` as a process: it comes back serving what it served."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bot.targets.local import LocalTarget
from tests.serving.conftest import Registry
from tests.serving.support import SAFE_ROWS, make_manifest

LAUNCH = "from bot.cli.main import app; app()"


@contextmanager
def serve_models(state: Path, tracking_uri: str) -> Iterator[str]:
    """Run `promobot serve-models --port 0` in a subprocess; yield its URL, then SIGTERM it."""
    command = [sys.executable, "-c", LAUNCH, "serve-models", "--port", "0", "--state", str(state)]
    process = subprocess.Popen(
        [*command, "--tracking-uri", tracking_uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://" in line, process.stderr.read() if process.stderr else line
        yield line.split("listening on ")[1].split()[0]
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal for the parent to see.
    assert process.returncode in (0, -signal.SIGTERM), errors


def test_restarted_server_serves_what_it_served(tmp_path: Path, registry: Registry) -> None:
    """A restart (deploy, crash, reboot) must not lose the deployment, nor need the registry."""
    state = tmp_path / "state"
    old, new = registry.version("logistic"), registry.version("boosted")
    with serve_models(state, registry.tracking_uri) as url:
        target = LocalTarget(url, registry.tracking_uri)
        target.apply(make_manifest(old), print)
        target.apply(make_manifest(new), print)
        target.close()
    unreachable_registry = f"sqlite:///{tmp_path / 'absent' / 'mlflow.db'}"
    with serve_models(state, unreachable_registry) as url, httpx.Client(base_url=url) as client:
        described = client.get("/v1/models/churn").json()
        answer = client.post("/v1/models/churn/predict", json={"records": SAFE_ROWS})
    shares = {v["version"]: v["traffic"] for v in described["versions"]}
    assert shares == {old: 0, new: 100}
    assert answer.status_code == 200
    assert answer.json()["version"] == new
