"""The scoring server's test models, logged once per test run (shared by tests/serving,
tests/cd and tests/board): logistic, boosted, fragile, ... in a SQLite-backed MLflow, and
a scoring server resolving them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.serving.runner import RunningServer, start_in_thread
from tests.support.shared import built_once, own_copy

REGISTER = Path(__file__).resolve().parents[1] / "serving" / "register_models.py"


@dataclass(frozen=True)
class Registry:
    """The MLflow registry the test models live in."""

    tracking_uri: str
    versions: dict[str, str]

    def version(self, name: str) -> str:
        """Version number of a test model: logistic, boosted, fragile, fragile_example, ..."""
        return self.versions[name]


def _register(root: Path) -> None:
    """Log the models into `root/mlflow.db`, in a subprocess so MLflow's globals stay out
    of the tests; their versions go to `root/versions.json`."""
    done = subprocess.run(
        [sys.executable, str(REGISTER), f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"registering the test models failed:\n{done.stderr[-4000:]}")
    (root / "versions.json").write_text(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The models, logged once per run; each worker has its own copy of the database."""
    root = built_once(tmp_path_factory, "serving-models", _register)
    versions = json.loads((root / "versions.json").read_text())
    return Registry(tracking_uri=own_copy(tmp_path_factory, root / "mlflow.db"), versions=versions)


@pytest.fixture
def scoring_server(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningServer]:
    """A real scoring server (uvicorn in a thread, free port) resolving the test models."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    server = start_in_thread(state_dir=tmp_path / "serving", tracking_uri=registry.tracking_uri)
    yield server
    server.stop()
