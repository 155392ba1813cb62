"""What an App may do: refusals name the permission to grant, team problems do not stop a
proposal, drafts refused by the plan are a distinct error, and doctor reads the grant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.forge.base import (
    CommitState,
    ForgeDraftsRefusedError,
    ForgePermissionError,
    PromotionOutcome,
)
from bot.forge.github import GitHubForge
from bot.forge.permissions import missing_permissions
from tests.forge.support import SeedChange, app_settings, promote, repository
from tests.support.github_sandbox import APP_PERMISSIONS, ORG, GitHubSandbox


def without(permission: str) -> SeedChange:
    """A seed change: the App is not granted `permission`."""

    def change(seed: dict[str, Any]) -> None:
        seed["apps"][0]["permissions"] = {
            name: level for name, level in APP_PERMISSIONS.items() if name != permission
        }

    return change


def team_without_access(seed: dict[str, Any]) -> None:
    """A team of the organisation that was never given the repository."""
    seed["teams"].append({"org": ORG, "slug": "ops", "name": "Ops", "members": ["bob"]})


def private_on_free_plan(seed: dict[str, Any]) -> None:
    repository(seed)["private"] = True
    seed["orgs"][0]["plan"] = "free"


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


@pytest.mark.parametrize(
    ("change", "team", "message"),
    [
        (team_without_access, "ops", "Reviews may only be requested from collaborators"),
        (without("members"), "ml-reviewers", "Could not resolve to a node"),
    ],
)
def test_a_refused_team_review_request_does_not_stop_the_proposal(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
    change: SeedChange,
    team: str,
    message: str,
) -> None:
    """The pull request is opened, the person still asked, and the problem returned so the
    workflow sets the verdict and reports it."""
    sandbox = make_sandbox(change)
    with GitHubForge(app_settings(sandbox)) as forge:
        result = promote(forge, 2, team_reviewers=[team])
        pull = forge.get_pull_request(result.pull_request.number, with_files=False)
        again = promote(forge, 2, team_reviewers=[team])
    assert result.outcome is PromotionOutcome.CREATED
    (problem,) = result.review_problems
    assert problem.teams == (team,)
    assert message in problem.message
    assert "Members: read" in problem.hint
    assert pull.requested_reviewers == ("carol",)
    assert result.pull_request.requested_teams == ()
    assert again.outcome is PromotionOutcome.UNCHANGED
    assert [p.teams for p in again.review_problems] == [(team,)]


def test_installation_permissions_for_doctor(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """`promobot doctor` compares what the installation was granted with what it needs."""
    sandbox = make_sandbox(without("members"))
    with GitHubForge(app_settings(sandbox)) as forge:
        granted = forge.installation_permissions()
    assert granted["contents"] == "write"
    assert "members" not in granted
    assert [need.name for need in missing_permissions(granted)] == ["members"]


def test_drafts_refused_by_the_plan_are_a_distinct_error(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """GitHub Free has no drafts in private repositories: the workflow opens a plain pull
    request labelled rejected instead, on the same commit."""
    sandbox = make_sandbox(private_on_free_plan)
    with GitHubForge(app_settings(sandbox)) as forge:
        with pytest.raises(ForgeDraftsRefusedError, match="not supported"):
            promote(forge, 2, draft=True)
        plain = promote(forge, 2, draft=False, labels=["promobot:rejected"])
        with pytest.raises(ForgeDraftsRefusedError):
            forge.set_draft(plain.pull_request.number, True)
    assert plain.outcome is PromotionOutcome.CREATED
    assert not plain.pull_request.draft
    assert plain.pull_request.labels == ("promobot:rejected",)
