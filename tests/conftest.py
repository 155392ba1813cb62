"""Fixtures every test may use: reference data and an isolated HOME.

Reference data comes from two places, both inside the repository: npm packages pinned in
`.ci/package.json` and installed by `bash .ci/setup` (GitHub's REST and webhook
descriptions, octokit's webhook examples), and `tests/fixtures/`, what no registry
publishes, written by this project from documented shapes (see its README).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.contract import WEBHOOK_EXAMPLES, OctokitExamples, published_file

pytest_plugins = [
    "tests.support.github_sandbox",
    "tests.support.mlflow_models",
    "tests.support.serving_models",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
MLFLOW_BODY_TIMESTAMP = "2025-01-01T12:00:00.123456+00:00"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """`tests/fixtures`: payloads this project wrote from documented shapes."""
    return FIXTURES


@pytest.fixture(scope="session")
def read_fixture(fixtures_dir: Path) -> Callable[[str], Any]:
    """Read a JSON file of `tests/fixtures` afresh (so a test may change what it gets).
    Each file names the documented shape it follows in its `source` field."""

    def read(relative: str) -> Any:
        document = json.loads((fixtures_dir / relative).read_text())
        assert document["source"]["url"].startswith("https://"), relative
        return document

    return read


@pytest.fixture(scope="session")
def octokit_examples() -> OctokitExamples:
    """octokit's example webhook payloads, every event (`@octokit/webhooks-examples`)."""
    return OctokitExamples(published_file(*WEBHOOK_EXAMPLES))


@pytest.fixture
def mlflow_bodies() -> dict[str, dict[str, Any]]:
    """The body MLflow POSTs for each webhook event, by `<entity>.<action>`: the envelope
    of `mlflow/webhooks/delivery.py` (`_send_webhook_request`) around the `example()` of
    the event's payload class in `mlflow/webhooks/types.py` (what MLflow's own "test
    webhook" action sends), with a fixed ISO-8601 timestamp."""
    from mlflow.webhooks.types import EVENT_TO_PAYLOAD_CLASS

    return {
        f"{entity.value}.{action.value}": {
            "entity": entity.value,
            "action": action.value,
            "timestamp": MLFLOW_BODY_TIMESTAMP,
            "data": dict(payload_class.example()),
        }
        for (entity, action), payload_class in EVENT_TO_PAYLOAD_CLASS.items()
    }


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
