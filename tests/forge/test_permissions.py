"""GitHub's 403 for a permission the App was not granted names it, and the hint says which
endpoint needs it (the refusals themselves are in the contract, tests/forge/test_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.forge.base import (
    CommitState,
    ForgePermissionError,
)
from bot.forge.github import GitHubForge
from tests.forge.support import SeedChange, app_settings
from tests.support.github_sandbox import APP_PERMISSIONS, ORG, GitHubSandbox


def without(permission: str) -> SeedChange:
    """A seed change: the App is not granted `permission`."""

    def change(seed: dict[str, Any]) -> None:
        seed["apps"][0]["permissions"] = {
            name: level for name, level in APP_PERMISSIONS.items() if name != permission
        }

    return change


def test_missing_members_permission_is_an_error_not_a_no(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """Without Members: read GitHub answers 403; "not a member" would wait forever."""
    sandbox = make_sandbox(without("members"))
    with (
        GitHubForge(app_settings(sandbox)) as forge,
        pytest.raises(ForgePermissionError) as refused,
    ):
        forge.is_team_member(ORG, "ml-reviewers", "carol")
    assert refused.value.permission == "members"
    assert refused.value.hint is not None
    assert "Organization members: read" in refused.value.hint
    assert "/orgs/acme/teams/ml-reviewers/memberships/carol" in refused.value.hint


def test_every_403_names_the_permission_the_endpoint_needs(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """GitHub's `X-Accepted-GitHub-Permissions` says what would do; the hint says it too."""
    sandbox = make_sandbox(without("statuses"))
    with GitHubForge(app_settings(sandbox)) as forge:
        sha = forge.default_branch().sha
        with pytest.raises(ForgePermissionError) as refused:
            forge.set_commit_status(sha, CommitState.SUCCESS, "ok")
    assert refused.value.permission == "statuses"
    assert refused.value.hint is not None
    assert "Commit statuses: write" in refused.value.hint
