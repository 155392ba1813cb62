"""GitHub App permissions, enforced per endpoint for installation tokens, and the
organisation rules of team endpoints, driven with unmodified PyGithub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from github import Auth, GithubException, GithubIntegration
from promobot_sandbox.github import (
    routes_checks,
    routes_compare,
    routes_contents,
    routes_deploy,
    routes_git,
    routes_hooks,
    routes_issues,
    routes_merge,
    routes_misc,
    routes_protection,
    routes_pulls,
)
from promobot_sandbox.github.permissions import ROUTES

from tests.sandbox_github.helpers import app, open_pull, strict_sandbox
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import ORG, GitHubSandbox


def without(*names: str) -> Any:
    def change(seed: dict[str, Any]) -> None:
        granted = app(seed)["permissions"]
        app(seed)["permissions"] = {k: v for k, v in granted.items() if k not in names}

    return change


def test_a_missing_permission_is_refused_as_github_words_it(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """An App without Commit statuses cannot post the policy verdict: 403 "Resource not
    accessible by integration", naming the permission it would accept."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, without("statuses")) as sb:
        bot = sb.github(auth=sb.app_installation_auth()).get_repo(sb.repo_name)
        pr = open_pull(bot)
        with pytest.raises(GithubException) as refused:
            bot.get_commit(pr.head.sha).create_status("success", context="promobot/policy")
    assert refused.value.status == 403
    assert refused.value.data["message"] == "Resource not accessible by integration"
    assert (refused.value.headers or {})["x-accepted-github-permissions"] == "statuses=write"


def test_team_membership_needs_the_members_permission(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """Reading who is in a team is an organisation permission (Members: read)."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, without("members")) as sb:
        team = sb.github(auth=sb.app_installation_auth()).get_organization(ORG)
        with pytest.raises(GithubException) as refused:
            team.get_team_by_slug("ml-reviewers")
    assert refused.value.status == 403
    assert (refused.value.headers or {})["x-accepted-github-permissions"] == "members=read"


def test_an_app_with_members_permission_reads_memberships(github_sandbox: GitHubSandbox) -> None:
    bot = github_sandbox.github(auth=github_sandbox.app_installation_auth())
    team = bot.get_organization(ORG).get_team_by_slug("ml-reviewers")
    assert team.get_team_membership("carol").role == "member"


def test_outside_collaborators_cannot_see_teams(github_sandbox: GitHubSandbox) -> None:
    """dave collaborates on the repository but is no member of the organisation: team
    endpoints are for members only, so the team is not found."""
    org = github_sandbox.github("dave").get_organization(ORG)
    with pytest.raises(GithubException) as hidden:
        org.get_team_by_slug("ml-reviewers")
    assert hidden.value.status == 404


def test_team_reviewers_need_repository_access(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """A team without access to the repository cannot be asked to review (422)."""

    def add_ops_team(seed: dict[str, Any]) -> None:
        seed["teams"].append({"org": ORG, "slug": "ops", "members": ["bob"]})

    with strict_sandbox(tmp_path, rest_contract, webhook_contract, add_ops_team) as sb:
        pr = open_pull(sb.github(auth=sb.app_installation_auth()).get_repo(sb.repo_name))
        with pytest.raises(GithubException) as refused:
            pr.create_review_request(team_reviewers=["ops"])
        pr.create_review_request(team_reviewers=["ml-reviewers"])
        requested = sb.receiver.wait_for("pull_request", "review_requested").payload
    assert refused.value.status == 422
    assert refused.value.data["message"].startswith(
        "Reviews may only be requested from collaborators."
    )
    assert requested["requested_team"]["slug"] == "ml-reviewers"


def test_team_reviewers_need_the_members_permission(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, without("members")) as sb:
        pr = open_pull(sb.github(auth=sb.app_installation_auth()).get_repo(sb.repo_name))
        with pytest.raises(GithubException) as refused:
            pr.create_review_request(team_reviewers=["ml-reviewers"])
    assert refused.value.status == 422
    assert "Could not resolve to a node" in refused.value.data["message"]


def test_installation_tokens_carry_the_seeded_permissions(github_sandbox: GitHubSandbox) -> None:
    """`GET /app` and the token exchange report the seed's permissions; a token asked
    for a subset can do no more, and one asked for more is refused."""
    integration = Auth.AppAuth(github_sandbox.app_id, github_sandbox.app_private_key)
    registration = GithubIntegration(base_url=github_sandbox.base_url, auth=integration)
    try:
        assert registration.get_app().permissions["members"] == "read"
    finally:
        registration.close()
    narrow = integration.get_installation_auth(
        github_sandbox.installation_id, {"statuses": "write"}
    )
    repo = github_sandbox.github(auth=narrow).get_repo(github_sandbox.repo_name)
    with pytest.raises(GithubException) as narrowed:
        repo.get_pulls().get_page(0)
    assert narrowed.value.status == 403
    wide = integration.get_installation_auth(
        github_sandbox.installation_id, {"administration": "write"}
    )
    with pytest.raises(GithubException) as too_much:
        github_sandbox.github(auth=wide).get_repo(github_sandbox.repo_name)
    assert too_much.value.status == 422


def test_every_api_route_names_the_permission_it_needs() -> None:
    """A route missing from the table would refuse every installation, and an entry
    without a route documents nothing: keep them in step."""
    modules = (
        routes_checks,
        routes_compare,
        routes_contents,
        routes_deploy,
        routes_git,
        routes_hooks,
        routes_issues,
        routes_merge,
        routes_misc,
        routes_protection,
        routes_pulls,
    )
    routes = {
        (method, route.path)
        for module in modules
        for route in module.router.routes
        for method in getattr(route, "methods", ())
    }
    assert routes == set(ROUTES)
