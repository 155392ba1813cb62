"""Settings of the GitHub adapter; the global settings nest them under `github`."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

REPOSITORY_PATTERN = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


class GitHubSettings(BaseModel):
    """Where the forge is and how promobot signs in: a token, or a GitHub App installation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(
        default="https://api.github.com",
        description="REST API root: `https://api.github.com`, GHES `https://host/api/v3`, "
        "or the sandbox's `http://127.0.0.1:PORT`.",
    )
    repository: str = Field(
        pattern=REPOSITORY_PATTERN, description="The GitOps repository, `owner/name`."
    )
    token: SecretStr | None = Field(
        default=None, description="Personal or bot access token; leave empty for App auth."
    )
    app_id: int | None = Field(default=None, ge=1, description="GitHub App id.")
    private_key_path: Path | None = Field(
        default=None, description="PEM file with the GitHub App's private key."
    )
    private_key: SecretStr | None = Field(
        default=None, description="The App's PEM private key itself, instead of a path."
    )
    installation_id: int | None = Field(
        default=None, ge=1, description="Installation of the App on the repository's owner."
    )
    bot_login: str = Field(
        min_length=1,
        description="Login GitHub shows for the bot (`promobot[bot]` for an App); the bot "
        "recognises its own comments, commits and reviews by it.",
    )
    token_refresh_margin_seconds: int = Field(
        default=60,
        ge=0,
        description="Renew an App installation token this long before it expires.",
    )
    commit_name: str = Field(default="promobot", description="Git author name of bot commits.")
    commit_email: str = Field(
        default="promobot@users.noreply.github.com",
        description="Git author and committer e-mail of bot commits; a branch head committed "
        "by anyone else counts as a human commit.",
    )
    default_branch: str | None = Field(
        default=None,
        description="Default branch; when empty it is read from the repository once per process.",
    )
    status_context: str = Field(
        default="promobot/policy", description="Commit status context of the policy verdict."
    )
    timeout_seconds: int = Field(default=15, ge=1, description="HTTP timeout per request.")
    retry_total: int = Field(
        default=5, ge=0, description="Retries per request on 5xx, 429 and rate-limit 403."
    )
    retry_backoff_seconds: float = Field(
        default=0.5, ge=0, description="Exponential backoff factor between retries."
    )
    secondary_rate_wait_seconds: float = Field(
        default=60, ge=0, description="Wait after a secondary rate limit without `Retry-After`."
    )
    max_rate_limit_wait_seconds: int = Field(
        default=300,
        ge=0,
        description="Longest wait for a rate-limit reset or `Retry-After`; longer waits fail "
        "the operation (it is safe to repeat later).",
    )
    seconds_between_writes: float = Field(
        default=1.0,
        ge=0,
        description="Pause between write requests GitHub recommends against secondary rate "
        "limits; 0 for the sandbox.",
    )

    @model_validator(mode="after")
    def _one_auth_mode(self) -> Self:
        has_app_key = self.private_key_path is not None or self.private_key is not None
        uses_app = self.app_id is not None or self.installation_id is not None or has_app_key
        if self.token is not None and uses_app:
            raise ValueError(
                "github: set either `token` or the App fields (`app_id`, `private_key_path` "
                "or `private_key`, `installation_id`), not both"
            )
        if self.token is None and not uses_app:
            raise ValueError(
                "github: no credentials; set `token`, or `app_id`, `private_key_path` "
                "and `installation_id` for a GitHub App"
            )
        if uses_app and (self.app_id is None or self.installation_id is None or not has_app_key):
            raise ValueError(
                "github: App authentication needs `app_id`, `installation_id` and "
                "`private_key_path` (or `private_key`)"
            )
        return self

    @property
    def owner(self) -> str:
        """Owner (user or organisation) of the repository."""
        return self.repository.split("/", 1)[0]

    @property
    def uses_app(self) -> bool:
        """True when promobot signs in as a GitHub App installation."""
        return self.token is None
