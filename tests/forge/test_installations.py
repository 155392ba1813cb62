"""One App, several repositories: an adapter per repository, its installation looked up,
and the App's installations listed with its JSON web token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.errors import UserInputError
from bot.forge.github import GitHubForge
from bot.forge.installations import list_installations
from tests.forge.support import SeedChange, app_settings, promote
from tests.support.github_sandbox import INSTALLATION_ID, UNRELATED_REPO, GitHubSandbox

WEBAPP = "acme/webapp"


def second_repository(seed: dict[str, Any]) -> None:
    """An unrelated repository of the same organisation, where the App is installed too."""
    first = seed["repositories"][0]
    seed["repositories"].append(
        {"full_name": WEBAPP, "default_branch": "main", "content": first["content"]}
    )


def test_an_adapter_per_repository_finds_its_installation(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """Without a repository or installation id in the settings, each adapter is built for
    one repository and asks GitHub which installation serves it."""
    sandbox = make_sandbox(second_repository)
    settings = app_settings(sandbox, repository=None, installation_id=None)
    with (
        GitHubForge(settings, repository=WEBAPP) as webapp,
        GitHubForge(settings, repository=sandbox.repo_name) as models,
    ):
        opened = promote(webapp, 2)
        assert webapp.repository == WEBAPP
        assert models.list_promotion_pull_requests() == []
    assert opened.pull_request.url.endswith("/acme/webapp/pull/1")
    lookups = [e["path"] for e in sandbox.requests() if e["path"].endswith("/installation")]
    assert sorted(lookups) == [
        "/api/v3/repos/acme/models/installation",
        "/api/v3/repos/acme/webapp/installation",
    ]


def test_an_explicit_installation_is_used_as_given(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    sandbox = make_sandbox(second_repository)
    settings = app_settings(sandbox, repository=None, installation_id=None)
    with GitHubForge(settings, repository=WEBAPP, installation_id=INSTALLATION_ID) as webapp:
        assert webapp.default_branch().name == "main"
    assert not [e for e in sandbox.requests() if e["path"].endswith("/installation")]


def test_no_repository_at_all_is_a_clear_error(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    sandbox = make_sandbox(second_repository)
    with pytest.raises(UserInputError, match="no repository"):
        GitHubForge(app_settings(sandbox, repository=None))


def test_the_apps_installations_and_their_repositories(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    sandbox = make_sandbox(second_repository)
    (installation,) = list_installations(app_settings(sandbox, repository=None))
    assert installation.id == INSTALLATION_ID
    assert installation.account == "acme"
    assert installation.repositories == ("acme/models", WEBAPP, UNRELATED_REPO)
