"""Settings of the GitHub adapter; the global settings nest them under `github`."""

from __future__ import annotations

import re
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
    repository: str | None = Field(
        default=None,
        pattern=REPOSITORY_PATTERN,
        description="The GitOps repository, `owner/name`; required with a token. With an App, "
        "the default repository when one adapter serves one repository.",
    )
    repositories: tuple[str, ...] = Field(
        default=(),
        description="With an App: serve only these repositories (`owner/name`) of its "
        "installations; empty serves every installed repository that holds policies.",
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
        default=None,
        ge=1,
        description="Installation of the App on the repository's owner; when empty it is looked "
        "up for the repository (`GET /repos/{owner}/{repo}/installation`).",
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
    commit_name: str | None = Field(
        default=None,
        min_length=1,
        description="Token mode only: git author and committer name of bot commits. Empty: "
        "GitHub uses the token's user. An App's commits carry no custom identity, so GitHub "
        "signs them.",
    )
    commit_email: str | None = Field(
        default=None,
        min_length=3,
        description="Token mode only, with `commit_name`: git author and committer e-mail of "
        "bot commits. Use an address of the token's user (e.g. `<id>+<login>@users.noreply."
        "github.com`): GitHub credits commits to whoever owns the address.",
    )
    per_page: int = Field(
        default=100, ge=1, le=100, description="Items per page of every list GitHub pages."
    )
    mergeability_timeout_seconds: float = Field(
        default=20,
        ge=0,
        description="How long to wait for GitHub to compute a pull request's mergeability "
        "(`mergeable: null`) before merging.",
    )
    merge_attempts: int = Field(
        default=4,
        ge=1,
        description='Merge attempts while GitHub answers the transient 405 "Base branch was '
        'modified".',
    )
    merge_backoff_seconds: float = Field(
        default=1.0, ge=0, description="First wait between merge attempts; it doubles."
    )
    conditional_cache_entries: int = Field(
        default=2048,
        ge=0,
        description="GET answers kept for conditional requests (`If-None-Match`; a 304 costs no "
        "rate limit); 0 turns the cache off.",
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
                "github: no credentials; set `token`, or `app_id` and `private_key_path` "
                "(and optionally `installation_id`) for a GitHub App"
            )
        if uses_app and (self.app_id is None or not has_app_key):
            raise ValueError(
                "github: App authentication needs `app_id` and `private_key_path` (or "
                "`private_key`); `installation_id` is optional"
            )
        return self

    @model_validator(mode="after")
    def _repositories_and_identity(self) -> Self:
        if self.token is not None and self.repository is None:
            raise ValueError(
                "github: token mode serves one repository; set `repository` (`owner/name`)"
            )
        if self.token is not None and self.repositories:
            raise ValueError(
                "github: `repositories` needs a GitHub App; with a token set `repository` only"
            )
        bad = [name for name in self.repositories if not re.fullmatch(REPOSITORY_PATTERN, name)]
        if bad:
            raise ValueError(
                f"github: `repositories` entries must be `owner/name`; not {', '.join(bad)}"
            )
        if (self.commit_name is None) != (self.commit_email is None):
            raise ValueError("github: set both `commit_name` and `commit_email`, or neither")
        if self.token is None and self.commit_email is not None:
            raise ValueError(
                "github: an App's commits carry no custom author so that GitHub signs them; "
                "remove `commit_name` and `commit_email`"
            )
        return self

    @property
    def owner(self) -> str:
        """Owner (user or organisation) of `repository`; empty when none is set."""
        return (self.repository or "").partition("/")[0]

    @property
    def uses_app(self) -> bool:
        """True when promobot signs in as a GitHub App installation."""
        return self.token is None

    def serves(self, repository: str) -> bool:
        """Whether `repository` is one this deployment may serve: `repositories` when set;
        else, with an App, every installed repository (`repository` is only the default one,
        for the CLI, CD on push and the board), and with a token its one `repository`."""
        if self.repositories:
            wanted: tuple[str, ...] = self.repositories
        elif not self.uses_app and self.repository:
            wanted = (self.repository,)
        else:
            return True
        return repository.lower() in {name.lower() for name in wanted}
