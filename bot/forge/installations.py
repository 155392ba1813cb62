"""The App's installations and the repositories each may act on, read with its JWT.

One App serves many repositories: `GET /app/installations` (as the App) names the
accounts it is installed on, and `GET /installation/repositories` (as each
installation) the repositories that installation may use. The wiring builds one
`GitHubForge` per repository with its installation id.
https://docs.github.com/en/rest/apps/apps#list-installations-for-the-authenticated-app
https://docs.github.com/en/rest/apps/installations#list-repositories-accessible-to-the-app-installation
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ForgeError
from bot.forge.client import InstallationAuth, make_github, make_integration
from bot.forge.session import forge_errors, pages
from bot.forge.settings import GitHubSettings

PER_PAGE = {"per_page": 100}


class Installation(BaseModel):
    """One installation of the App and the repositories it may act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(description="Installation id.")
    account: str = Field(description="The user or organisation it is installed on.")
    repository_selection: str = Field(description="`all` or `selected` repositories.")
    repositories: tuple[str, ...] = Field(
        description="`owner/name` of each repository served, sorted."
    )
    permissions: dict[str, str] = Field(description="The permissions granted to it.")


def list_installations(settings: GitHubSettings) -> list[Installation]:
    """Every installation of the App, with the repositories it may act on that the
    settings serve (`repositories`, when set)."""
    if not settings.uses_app:
        raise ForgeError(
            "listing installations needs a GitHub App; a token serves one repository",
            hint="set `github.app_id` and the App's private key",
        )
    found = []
    with forge_errors("list the App's installations"), closing(make_integration(settings)) as app:
        for raw in list(pages(app.requester, "/app/installations", PER_PAGE)):
            installation_id = int(raw["id"])
            names = installation_repositories(settings, installation_id)
            found.append(
                Installation(
                    id=installation_id,
                    account=str((raw.get("account") or {}).get("login") or ""),
                    repository_selection=str(raw.get("repository_selection") or "all"),
                    repositories=tuple(sorted(n for n in names if settings.serves(n))),
                    permissions={str(k): str(v) for k, v in (raw.get("permissions") or {}).items()},
                )
            )
    return found


def installation_repositories(settings: GitHubSettings, installation_id: int) -> list[str]:
    """`owner/name` of each repository the installation may act on."""
    margin = dt.timedelta(seconds=settings.token_refresh_margin_seconds)
    auth = InstallationAuth(make_integration(settings), installation_id, margin)
    with (
        forge_errors("list an installation's repositories"),
        closing(auth),
        closing(make_github(settings, auth)) as gh,
    ):
        listing = pages(gh.requester, "/installation/repositories", PER_PAGE, "repositories")
        return [str(item["full_name"]) for item in listing]
