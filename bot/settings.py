"""promobot's settings: one object, built at the entry point from the environment, passed down.

Sections nest: `github`, `service`, `azure`, `azure_devops`. Every field can be set as
`PROMOBOT_<FIELD>` or, in a section, `PROMOBOT_<SECTION>__<FIELD>` (for example
`PROMOBOT_GITHUB__REPOSITORY=acme/models`). `VARIABLES` adds the names that people and
tools already use for some of them (`MLFLOW_TRACKING_URI`, `PROMOBOT_WORKERS`, Azure's own
`AZURE_SUBSCRIPTION_ID`, Azure Pipelines' `SYSTEM_COLLECTIONURI`, ...); where two of them
are set, the first in the table wins. Secrets are `SecretStr` and never logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.azure.settings import AzureDevOpsSettings, AzureSettings
from bot.board.settings import BoardSettings
from bot.errors import UserInputError
from bot.forge.settings import GitHubSettings
from bot.server.settings import ServiceSettings

VARIABLES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("mlflow_tracking_uri",): ("PROMOBOT_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
    ("service", "state_dir"): ("PROMOBOT_STATE_DIR",),
    ("service", "database_url"): ("PROMOBOT_DATABASE_URL",),
    ("service", "github_webhook_secret"): ("PROMOBOT_GITHUB_WEBHOOK_SECRET",),
    ("service", "mlflow_webhook_secret"): ("PROMOBOT_MLFLOW_WEBHOOK_SECRET",),
    ("service", "azure_event_grid_key"): (
        "PROMOBOT_AZURE_EVENT_GRID_KEY",
        "PROMOBOT_AZURE_SHARED_KEY",
    ),
    ("service", "azure_entra_tenant_id"): ("PROMOBOT_AZURE_ENTRA_TENANT_ID",),
    ("service", "azure_entra_audience"): ("PROMOBOT_AZURE_ENTRA_AUDIENCE",),
    ("service", "azure_entra_keys_url"): ("PROMOBOT_AZURE_ENTRA_KEYS_URL",),
    ("service", "ack_after"): ("PROMOBOT_ACK_AFTER",),
    ("service", "workers"): ("PROMOBOT_WORKERS",),
    ("service", "lease_seconds"): ("PROMOBOT_LEASE_SECONDS",),
    ("service", "max_attempts"): ("PROMOBOT_MAX_ATTEMPTS",),
    ("service", "tick_seconds"): ("PROMOBOT_TICK_SECONDS",),
    ("service", "loop_limit"): ("PROMOBOT_LOOP_LIMIT",),
    ("board", "enabled"): ("PROMOBOT_BOARD_ENABLED",),
    ("board", "token"): ("PROMOBOT_BOARD_TOKEN",),
    ("board", "cache_seconds"): ("PROMOBOT_BOARD_CACHE_SECONDS",),
    ("board", "git_url"): ("PROMOBOT_BOARD_GIT_URL",),
    ("azure", "subscription_id"): ("PROMOBOT_AZURE_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"),
    ("azure", "resource_group"): ("PROMOBOT_AZURE_RESOURCE_GROUP", "AZURE_RESOURCE_GROUP"),
    ("azure", "workspace"): ("PROMOBOT_AZURE_WORKSPACE", "AZUREML_WORKSPACE_NAME"),
    ("azure", "base_url"): ("PROMOBOT_AZURE_BASE_URL",),
    ("azure", "token"): ("PROMOBOT_AZURE_TOKEN",),
    ("azure", "max_retries"): ("PROMOBOT_AZURE_MAX_RETRIES",),
    ("azure", "retry_backoff_max"): ("PROMOBOT_AZURE_RETRY_BACKOFF_MAX",),
    ("azure", "operation_timeout_seconds"): ("PROMOBOT_AZURE_OPERATION_TIMEOUT_SECONDS",),
    ("azure", "retire_grace_seconds"): ("PROMOBOT_AZURE_RETIRE_GRACE_SECONDS",),
    ("azure", "smoke_requests_dir"): ("PROMOBOT_AZURE_SMOKE_REQUESTS_DIR",),
    ("azure", "health_probes"): ("PROMOBOT_AZURE_HEALTH_PROBES",),
    ("azure", "probe_retries"): ("PROMOBOT_AZURE_PROBE_RETRIES",),
    ("azure", "probe_retry_seconds"): ("PROMOBOT_AZURE_PROBE_RETRY_SECONDS",),
    ("azure", "settle_poll_seconds"): ("PROMOBOT_AZURE_SETTLE_POLL_SECONDS",),
    ("azure_devops", "organization_url"): ("PROMOBOT_AZURE_DEVOPS_ORG_URL", "SYSTEM_COLLECTIONURI"),
    ("azure_devops", "project"): ("PROMOBOT_AZURE_DEVOPS_PROJECT", "SYSTEM_TEAMPROJECT"),
    ("azure_devops", "token"): ("PROMOBOT_AZURE_DEVOPS_TOKEN", "AZURE_DEVOPS_EXT_PAT"),
    ("azure_devops", "poll_interval_seconds"): ("PROMOBOT_AZURE_DEVOPS_POLL_INTERVAL_SECONDS",),
    ("azure_devops", "timeout_seconds"): ("PROMOBOT_AZURE_DEVOPS_TIMEOUT_SECONDS",),
    ("azure_devops", "max_retries"): ("PROMOBOT_AZURE_DEVOPS_MAX_RETRIES",),
}
"""Settings field (its path) → the environment variables that set it, strongest first."""


SECTION_HINTS = {
    "github": "GitHub needs PROMOBOT_GITHUB__REPOSITORY, PROMOBOT_GITHUB__BOT_LOGIN and "
    "PROMOBOT_GITHUB__TOKEN, or for an App PROMOBOT_GITHUB__APP_ID, "
    "PROMOBOT_GITHUB__INSTALLATION_ID and PROMOBOT_GITHUB__PRIVATE_KEY_PATH "
    "(unset them all to run without GitHub)",
    "azure": "the Azure ML workspace needs PROMOBOT_AZURE_SUBSCRIPTION_ID, "
    "PROMOBOT_AZURE_RESOURCE_GROUP and PROMOBOT_AZURE_WORKSPACE",
    "azure_devops": "Azure DevOps needs PROMOBOT_AZURE_DEVOPS_ORG_URL, "
    "PROMOBOT_AZURE_DEVOPS_PROJECT and PROMOBOT_AZURE_DEVOPS_TOKEN",
}


class Settings(BaseSettings):
    """Everything promobot needs to reach git, GitHub, the registries, the targets and its store."""

    model_config = SettingsConfigDict(
        env_prefix="PROMOBOT_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    repo: Path = Field(
        default=Path(),
        description="Local checkout of the GitOps repository: templates/, evaluation data, CD.",
    )
    data_root: Path | None = Field(
        default=None,
        description="Where policies' evaluation datasets are found; default: the repo checkout.",
    )
    environments: tuple[str, ...] = Field(
        default=("production",),
        description="Environments a new version is proposed for when the trigger names none.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking (and registry) URI."
    )
    local_target_url: str = Field(
        default="http://127.0.0.1:8081",
        description="URL of the `promobot serve-models` scoring server (target `local`).",
    )
    apply_on_push: bool = Field(
        default=False,
        description="Run `apply` from the service on pushes to the default branch "
        "(instead of the cd.yml workflow).",
    )
    record_signing_key: Path | None = Field(
        default=None,
        description="SSH private key that signs each decision record "
        "(`<model>.decision.json.sig`, checked with `promobot verify-record`); none: unsigned.",
    )
    github: GitHubSettings | None = Field(
        default=None, description="The forge; required by the service, propose and gate."
    )
    service: ServiceSettings = Field(
        default_factory=ServiceSettings, description="The webhook service and its event store."
    )
    board: BoardSettings = Field(
        default_factory=BoardSettings, description="The promotion board of `promobot serve`."
    )
    azure: AzureSettings | None = Field(
        default=None, description="The Azure ML workspace (registry and `azureml` target)."
    )
    azure_devops: AzureDevOpsSettings | None = Field(
        default=None, description="The Azure DevOps project of the `azure-devops` target."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then `PROMOBOT_*` names, then the names of `VARIABLES`."""
        del dotenv_settings, file_secret_settings
        return init_settings, env_settings, _KnownVariables(settings_cls)

    @property
    def data_folder(self) -> Path:
        """Where evaluation datasets are read."""
        return self.data_root or self.repo

    def require_github(self) -> GitHubSettings:
        """The GitHub settings, or a clear error naming the variables to set."""
        if self.github is None:
            raise UserInputError(
                "GitHub is not configured",
                hint="set PROMOBOT_GITHUB__REPOSITORY, PROMOBOT_GITHUB__BASE_URL, "
                "PROMOBOT_GITHUB__BOT_LOGIN and PROMOBOT_GITHUB__TOKEN (or the App settings)",
            )
        return self.github

    def require_tracking_uri(self) -> str:
        """The MLflow URI, or a clear error."""
        if not self.mlflow_tracking_uri:
            raise UserInputError("MLflow is not configured", hint="set MLFLOW_TRACKING_URI")
        return self.mlflow_tracking_uri

    def require_azure(self, what: str) -> AzureSettings:
        """The Azure ML workspace, or an error saying that `what` needs it."""
        if self.azure is None:
            raise UserInputError(
                f"{what} is not configured: no Azure ML workspace",
                hint="set PROMOBOT_AZURE_SUBSCRIPTION_ID, PROMOBOT_AZURE_RESOURCE_GROUP and "
                "PROMOBOT_AZURE_WORKSPACE (see README, 'Deploying to Azure ML')",
            )
        return self.azure

    def require_azure_devops(self, what: str) -> AzureDevOpsSettings:
        """The Azure DevOps project, or an error saying that `what` needs it."""
        if self.azure_devops is None:
            raise UserInputError(
                f"{what} is not configured: no Azure DevOps project",
                hint="set PROMOBOT_AZURE_DEVOPS_ORG_URL, PROMOBOT_AZURE_DEVOPS_PROJECT and "
                "PROMOBOT_AZURE_DEVOPS_TOKEN",
            )
        return self.azure_devops


class _KnownVariables(PydanticBaseSettingsSource):
    """The variables of `VARIABLES`, as nested values."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` reads every variable at once."""
        del field
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return known_variables(os.environ)


AMBIENT_SECTIONS: dict[str, tuple[str, ...]] = {
    "azure": ("subscription_id", "resource_group", "workspace"),
    "azure_devops": ("organization_url", "project", "token"),
}
"""Sections that tools' own variables (not `PROMOBOT_*`) may fill, and what they need.
Azure Pipelines sets `SYSTEM_COLLECTIONURI` in every run, for example: that alone must not
make half an Azure DevOps configuration."""


def known_variables(environ: Mapping[str, str]) -> dict[str, Any]:
    """The nested values that `environ` sets through the names in `VARIABLES`."""
    values: dict[str, Any] = {}
    promobot_set: set[str] = set()
    for path, names in VARIABLES.items():
        given = next((name for name in names if environ.get(name)), None)
        if given is None:
            continue
        if given.startswith("PROMOBOT_"):
            promobot_set.add(path[0])
        section = values
        for part in path[:-1]:
            section = section.setdefault(part, {})
        section[path[-1]] = environ[given]
    for name, required in AMBIENT_SECTIONS.items():
        found = values.get(name)
        ambient_only = name not in promobot_set
        if found is not None and ambient_only and not all(f in found for f in required):
            del values[name]
    return values


def variable_of(location: tuple[int | str, ...]) -> str:
    """The environment variable that sets the field at `location` (a pydantic error's)."""
    path = tuple(str(part) for part in location)
    names = VARIABLES.get(path)
    if names is not None:
        return names[0]
    return "PROMOBOT_" + "__".join(part.upper() for part in path)


def load_settings(**service: Any) -> Settings:
    """Settings from the environment, with `service` fields given on the command line
    (None values are skipped); a located error for bad values."""
    overrides = {key: value for key, value in service.items() if value is not None}
    try:
        settings = Settings()
        if overrides:
            merged = settings.service.model_dump() | overrides
            settings = settings.model_copy(
                update={"service": ServiceSettings.model_validate(merged)}
            )
    except ValidationError as exc:
        raise _settings_error(exc) from None
    return settings


def _variable_in(section: tuple[int | str, ...]) -> Callable[[re.Match[str]], str]:
    return lambda match: f"`{variable_of((*section, match.group(1)))}`"


def _settings_error(exc: ValidationError) -> UserInputError:
    problems, hints = [], {"fix these environment variables (or the matching options)"}
    for error in exc.errors():
        location = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        message = str(error["msg"]).removeprefix("Value error, ")
        # A rule over a whole section names its fields in backticks: name their variables.
        message = re.sub(r"`([a-z_]+)`", _variable_in(location), message)
        field = ".".join(str(part) for part in location)
        problems.append(f"{variable_of(location)} ({field}): {message}")
        if location and str(location[0]) in SECTION_HINTS:
            hints.add(SECTION_HINTS[str(location[0])])
    return UserInputError("invalid settings: " + "; ".join(problems), hint="; ".join(sorted(hints)))
