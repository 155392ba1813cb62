"""Service settings from the environment, and `promobot serve`'s handler option."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.app import build_registry
from bot.cli.serve import serve
from bot.domain.manifest import RegistryKind
from bot.errors import UserInputError
from bot.server.handlers import (
    DEFAULT_HANDLER_FACTORY,
    LOGGING_HANDLER_FACTORY,
    ServiceContext,
    load_handler_factory,
)
from bot.server.metrics import ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.settings import Settings, load_settings
from bot.store.sql import SqlEventStore


def test_settings_come_from_promobot_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Deployments configure the service with environment variables only."""
    monkeypatch.delenv("PROMOBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("PROMOBOT_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PROMOBOT_GITHUB_WEBHOOK_SECRET", "s3cret-value")
    monkeypatch.setenv("PROMOBOT_WORKERS", "7")
    settings = load_settings(lease_seconds=12.5).service
    assert settings.database_url == f"sqlite:///{tmp_path / 'promobot.db'}"
    assert settings.workers == 7
    assert settings.lease_seconds == 12.5
    assert settings.github_webhook_secret is not None
    assert settings.github_webhook_secret.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert settings.mlflow_webhook_secret is None


def test_an_explicit_database_url_wins_over_the_state_dir(tmp_path: Path) -> None:
    settings = ServiceSettings(state_dir=tmp_path, database_url="postgresql+psycopg://h/db")
    assert settings.database_url == "postgresql+psycopg://h/db"


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOBOT_WORKERS", "0")
    with pytest.raises(UserInputError) as raised:
        load_settings()
    assert "workers" in str(raised.value)
    assert "PROMOBOT_WORKERS" in str(raised.value)


def test_deliveries_are_answered_once_committed_unless_told_to_wait_for_the_disk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().service.ack_after == "commit"
    monkeypatch.setenv("PROMOBOT_ACK_AFTER", "flush")
    assert load_settings().service.ack_after == "flush"
    monkeypatch.setenv("PROMOBOT_ACK_AFTER", "fsync")
    with pytest.raises(UserInputError) as raised:
        load_settings()
    assert "PROMOBOT_ACK_AFTER" in str(raised.value)
    assert "'commit' or 'flush'" in str(raised.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-colon", "not of the form module:function"),
        ("bot.nowhere:build", "cannot be imported"),
        ("bot.server.handlers:missing", "has no callable 'missing'"),
    ],
)
def test_a_bad_handler_spec_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        load_handler_factory(spec)


def test_serve_refuses_a_bad_handler_without_a_traceback(tmp_path: Path) -> None:
    """`promobot serve --handler` is for plug-ins: a typo must read as a message."""
    app = typer.Typer()
    app.command()(serve)
    url = f"sqlite:///{tmp_path / 'e.db'}"
    result = CliRunner().invoke(app, ["--handler", "bot.nowhere:x", "--database-url", url])
    assert result.exit_code == 2
    assert "cannot be imported" in result.stderr
    assert "Traceback" not in result.output


def test_the_logging_handler_logs_each_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without workflows (`--handler` set to it), the service still consumes and logs events."""
    caplog.set_level(logging.INFO)
    store = SqlEventStore(f"sqlite:///{tmp_path / 'e.db'}")
    settings = Settings(service=ServiceSettings(state_dir=tmp_path))
    handler = load_handler_factory(LOGGING_HANDLER_FACTORY)(
        ServiceContext(settings=settings, store=store, metrics=ServiceMetrics())
    )
    store.add("d-9", "github", "pushed", "ref:o/r@main", {})
    event = store.claim("w", 10)
    assert event is not None
    handler(event)
    store.close()
    assert "delivery d-9" in caplog.text
    assert "no workflow connected" in caplog.text


def test_the_default_handler_runs_the_workflows_and_needs_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`promobot serve` connects the workflows; without GitHub settings it says what to set."""
    from bot.errors import UserInputError

    monkeypatch.delenv("PROMOBOT_GITHUB__REPOSITORY", raising=False)
    store = SqlEventStore(f"sqlite:///{tmp_path / 'e.db'}")
    context = ServiceContext(
        settings=Settings(service=ServiceSettings(state_dir=tmp_path)),
        store=store,
        metrics=ServiceMetrics(),
    )
    with pytest.raises(UserInputError, match="GitHub is not configured"):
        load_handler_factory(DEFAULT_HANDLER_FACTORY)(context)
    store.close()


def test_serve_without_github_settings_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misconfigured service says what to set, with no traceback, and exits 2."""
    from typer.testing import CliRunner

    from bot.cli.main import app

    monkeypatch.delenv("PROMOBOT_GITHUB__REPOSITORY", raising=False)
    result = CliRunner().invoke(
        app, ["serve", "--port", "0", "--database-url", f"sqlite:///{tmp_path / 'e.db'}"]
    )
    assert result.exit_code == 2
    assert "GitHub is not configured" in result.output
    assert "Traceback" not in result.output


def test_a_pipelines_own_variables_alone_make_no_azure_devops_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Azure Pipelines sets SYSTEM_COLLECTIONURI and SYSTEM_TEAMPROJECT in every run; without
    a token they are not a configuration, and must not make the settings fail."""
    for name in ("PROMOBOT_AZURE_DEVOPS_TOKEN", "AZURE_DEVOPS_EXT_PAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYSTEM_COLLECTIONURI", "https://dev.azure.com/contoso/")
    monkeypatch.setenv("SYSTEM_TEAMPROJECT", "ml")
    assert load_settings().azure_devops is None
    monkeypatch.setenv("AZURE_DEVOPS_EXT_PAT", "pat")
    devops = load_settings().azure_devops
    assert devops is not None and devops.project == "ml"


def test_half_a_promobot_azure_section_is_an_error_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a person set with PROMOBOT_ names is meant: half of it is a mistake to report."""
    monkeypatch.setenv("PROMOBOT_AZURE_WORKSPACE", "ws")
    for name in ("PROMOBOT_AZURE_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserInputError, match="PROMOBOT_AZURE_SUBSCRIPTION_ID"):
        load_settings()


def test_an_azure_registry_event_without_azure_settings_names_what_to_set() -> None:
    """An Event Grid delivery reaching a bot with no Azure ML workspace is the operator's
    mistake: one message naming the variables, a `UserInputError`, so it is never retried."""
    settings = Settings()
    assert settings.azure is None
    with pytest.raises(UserInputError) as raised:
        build_registry(RegistryKind.AZUREML, settings)
    assert "the Azure ML registry is not configured: no Azure ML workspace" in str(raised.value)
    assert "PROMOBOT_AZURE_WORKSPACE" in (raised.value.hint or "")
