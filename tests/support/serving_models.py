"""The scoring server's test models, logged once per test session (shared by tests/serving and
tests/cd): logistic, boosted, fragile, ... in a SQLite-backed MLflow."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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
