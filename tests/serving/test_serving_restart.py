"""A restarted scoring server, run as `promobot serve-models`, serves what it served."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bot.cli.main import app
from bot.serving.runner import RunningServer
from bot.targets.local import LocalTarget
from tests.serving.support import SAFE_ROWS, make_manifest
from tests.support.serving_models import Registry

# The command's own module, not the whole `promobot` app: the test pays only for what it runs.
LAUNCH = "import typer; from bot.cli.serve_models import serve_models; typer.run(serve_models)"


@contextmanager
def serve_models(state: Path, tracking_uri: str) -> Iterator[str]:
    """Run `serve-models --port 0` in a subprocess; yield its URL, then SIGTERM it."""
    command = [sys.executable, "-c", LAUNCH, "--port", "0", "--state", str(state)]
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


def test_restarted_server_serves_what_it_served(
    tmp_path: Path, registry: Registry, start_server: Callable[..., RunningServer]
) -> None:
    """A restart (deploy, crash, reboot) must not lose the deployment, nor need the registry."""
    state = tmp_path / "state"
    old, new = registry.version("logistic"), registry.version("boosted")
    first = start_server(state)
    target = LocalTarget(first.url, registry.tracking_uri)
    target.apply(make_manifest(old), print)
    target.apply(make_manifest(new), print)
    target.close()
    first.stop()
    unreachable_registry = f"sqlite:///{tmp_path / 'absent' / 'mlflow.db'}"
    with serve_models(state, unreachable_registry) as url, httpx.Client(base_url=url) as client:
        described = client.get("/v1/models/churn").json()
        answer = client.post("/v1/models/churn/predict", json={"records": SAFE_ROWS})
    shares = {v["version"]: v["traffic"] for v in described["versions"]}
    assert shares == {old: 0, new: 100}
    assert answer.status_code == 200
    assert answer.json()["version"] == new


def test_serve_models_is_a_promobot_command() -> None:
    """`promobot serve-models` is how the demo and operators start the server."""
    result = CliRunner().invoke(app, ["serve-models", "--help"])
    assert result.exit_code == 0, result.output
    assert "--state" in result.output
    assert "--tracking-uri" in result.output
