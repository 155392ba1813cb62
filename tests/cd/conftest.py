"""CD fixtures: the scoring server's test models, a scoring server, and the sandbox GitHub."""

from __future__ import annotations

import pytest

from bot.serving.runner import RunningServer
from bot.settings import Settings
from tests.support.github_sandbox import (  # noqa: F401 - fixtures used by the tests here
    github_sandbox,
    rest_contract,
    webhook_contract,
)
from tests.support.serving_models import Registry


@pytest.fixture
def cd_settings(scoring_server: RunningServer, registry: Registry) -> Settings:
    """Settings that point CD at the scoring server and the test models' MLflow."""
    return Settings(mlflow_tracking_uri=registry.tracking_uri, local_target_url=scoring_server.url)


@pytest.fixture
def cd_env(cd_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same settings as the CLI reads them, from the environment."""
    assert cd_settings.mlflow_tracking_uri is not None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", cd_settings.mlflow_tracking_uri)
    monkeypatch.setenv("PROMOBOT_LOCAL_TARGET_URL", cd_settings.local_target_url)
    return cd_settings
