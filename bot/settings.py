"""promobot's settings: one object, built at the entry point from the environment, passed down.

Environment variables use the prefix `PROMOBOT_` and `__` for nesting, e.g.
`PROMOBOT_GITHUB__REPOSITORY=acme/models`, `PROMOBOT_GITHUB__TOKEN=…`.
`MLFLOW_TRACKING_URI` is read as MLflow's own clients read it. Secrets are
`SecretStr` and never logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import UserInputError
from bot.forge.settings import GitHubSettings


class Settings(BaseSettings):
    """Everything the workflows need to reach git, GitHub, the registry and the targets."""

    model_config = SettingsConfigDict(
        env_prefix="PROMOBOT_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    repo: Path = Field(
        default=Path(),
        description="Local checkout of the GitOps repository: templates/, evaluation data, CD.",
    )
    github: GitHubSettings | None = Field(
        default=None, description="The forge; required by the service, propose and gate."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PROMOBOT_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking (and registry) URI.",
    )
    environments: tuple[str, ...] = Field(
        default=("production",),
        description="Environments a new version is proposed for when the trigger names none.",
    )
    data_root: Path | None = Field(
        default=None,
        description="Where policies' evaluation datasets are found; default: the repo checkout.",
    )
    status_context: str = Field(
        default="promobot/policy", description="Commit status context of the policy verdict."
    )
    local_target_url: str = Field(
        default="http://127.0.0.1:8081", description="Scoring server of the `local` target."
    )
    apply_on_push: bool = Field(
        default=False,
        description="Run `apply` from the service on pushes to the default branch "
        "(instead of the cd.yml workflow).",
    )

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


def load_settings() -> Settings:
    """Settings from the environment; a readable error for bad values."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise UserInputError(
            f"invalid settings: {problems}", hint="check the PROMOBOT_* environment variables"
        ) from exc
