"""The scoring server's test models, logged once per test session (shared by tests/serving and
tests/cd): logistic, boosted, fragile, ... in a SQLite-backed MLflow."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTER = Path(__file__).resolve().parents[1] / "serving" / "register_models.py"


@dataclass(frozen=True)
class Registry:
    """The MLflow registry the test models live in."""

    tracking_uri: str
    versions: dict[str, str]

    def version(self, name: str) -> str:
        """Version number of a test model: logistic, boosted, fragile, fragile_example, ..."""
        return self.versions[name]


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Models logged once per session, in a subprocess so MLflow's globals stay out of tests."""
    root = tmp_path_factory.mktemp("mlflow")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, str(REGISTER), tracking_uri, str(root / "artifacts")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"registering the test models failed:\n{done.stderr[-4000:]}")
    versions = json.loads(done.stdout.strip().splitlines()[-1])
    return Registry(tracking_uri=tracking_uri, versions=versions)
