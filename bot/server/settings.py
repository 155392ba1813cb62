"""Settings of the bot service (`promobot serve`): the `service` section of `bot.settings`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from bot.store.engine import sqlite_url

MAX_BODY_BYTES = 25 * 1024 * 1024

AckAfter = Literal["commit", "flush"]
"""When a delivery is answered: once its event is committed, or once it is also on disk."""


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/promobot`, else `~/.local/state/promobot`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "promobot"


class ServiceSettings(BaseModel):
    """How the service stores events, authenticates deliveries and runs its workers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Folder for local state; the default SQLite database lives here.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the event store; default `sqlite:///<state_dir>/promobot.db`.",
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None, description="Secret of the GitHub webhook (`X-Hub-Signature-256`)."
    )
    mlflow_webhook_secret: SecretStr | None = Field(
        default=None, description="Secret of the MLflow webhook (`X-MLflow-Signature`)."
    )
    azure_event_grid_key: SecretStr | None = Field(
        default=None,
        description="Secret the Event Grid subscription's endpoint URL carries as `?key=`.",
    )
    azure_entra_tenant_id: str | None = Field(
        default=None,
        description="Microsoft Entra tenant whose tokens Event Grid deliveries carry.",
    )
    azure_entra_audience: str | None = Field(
        default=None,
        description="The application (its id or `api://` URI) Event Grid's tokens are for.",
    )
    azure_entra_keys_url: str | None = Field(
        default=None,
        description="The tenant's signing keys (JWKS); default: its public v2.0 keys URL.",
    )
    ack_after: AckAfter = Field(
        default="commit",
        description=(
            "`commit`: answer once the event is committed (it survives a crash of promobot;"
            " the database puts it on disk within about a second). `flush`: answer once it"
            " is on disk (it survives a power cut too; each answer waits for the disk)."
        ),
    )
    workers: int = Field(default=4, ge=1, le=64, description="Worker threads per replica.")
    lease_seconds: float = Field(
        default=60.0, gt=0, description="A claim not renewed for this long is retried."
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Attempts before a failing event is parked."
    )
    retry_base_seconds: float = Field(
        default=2.0, gt=0, description="Delay before the first retry; doubles each time."
    )
    retry_max_seconds: float = Field(default=600.0, gt=0, description="Longest retry delay.")
    poll_seconds: float = Field(
        default=1.0, gt=0, description="Idle workers look for due work this often."
    )
    tick_seconds: float = Field(
        default=60.0, ge=0, description="A `Tick` event this often (0: none)."
    )
    retention_days: float = Field(
        default=14.0, gt=0, description="Done events (and their delivery ids) kept this long."
    )
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES, gt=0, description="Larger deliveries are refused with 413."
    )
    loop_limit: int = Field(
        default=40,
        ge=2,
        description="More events than this for one pull request within a minute are a loop: "
        "they are parked and the pull request is told once.",
    )
    mlflow_tolerance_seconds: float = Field(
        default=300.0, gt=0, description="MLflow deliveries whose timestamp is further off: 401."
    )

    @model_validator(mode="after")
    def _entra_needs_both(self) -> ServiceSettings:
        if (self.azure_entra_tenant_id is None) != (self.azure_entra_audience is None):
            raise ValueError(
                "Entra authentication of Event Grid needs both `azure_entra_tenant_id` and "
                "`azure_entra_audience`"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _default_database(cls, values: Any) -> Any:
        if isinstance(values, dict) and not values.get("database_url"):
            state_dir = Path(values.get("state_dir") or default_state_dir())
            return {**values, "database_url": sqlite_url(state_dir)}
        return values
