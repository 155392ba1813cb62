"""Fixtures every test may use: the shared reference data and an isolated HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.github_sandbox",
    "tests.support.mlflow_models",
    "tests.support.serving_models",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = (PROJECT_ROOT / ".." / "shared" / "fixtures").resolve()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """`../shared/fixtures`: real payloads and API descriptions written elsewhere."""
    if not FIXTURES.is_dir():
        pytest.fail(f"reference fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Git and MLflow read and write under HOME; keep every test away from the real one."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    return home
