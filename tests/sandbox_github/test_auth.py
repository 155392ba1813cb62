"""Token authentication, and the GitHub App flow: JWT → installation token → bot user."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import jwt
import pytest
from github import GithubException

from tests.sandbox_github.helpers import commit_on_branch, open_pull
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import GitHubSandbox, make_checks, start_github_sandbox


@pytest.mark.parametrize("header", [None, "token nope", "Bearer nope", "Basic Ym9iOnRva2Vu"])
def test_requests_without_a_valid_token_get_401(
    github_sandbox: GitHubSandbox, header: str | None
) -> None:
    with github_sandbox.http() as http:
        headers = {} if header is None else {"Authorization": header}
        response = http.get(f"/repos/{github_sandbox.repo_name}", headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"message", "documentation_url"}


def test_both_token_schemes_authenticate(github_sandbox: GitHubSandbox) -> None:
    with github_sandbox.http() as http:
        for scheme in ("token", "Bearer"):
            response = http.get(
                "/user", headers={"Authorization": f"{scheme} {github_sandbox.tokens['bob']}"}
            )
            assert response.json()["login"] == "bob"


def test_app_installation_token_acts_as_the_bot(github_sandbox: GitHubSandbox) -> None:
    """PyGithub's own App authentication runs for real: the JWT is verified with the
    app's public key, and the installation token writes as `promobot[bot]`."""
    auth = github_sandbox.app_installation_auth()
    repo = github_sandbox.github(auth=auth).get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    assert pr.user.login == "promobot[bot]"
    assert pr.user.type == "Bot"
    run = repo.create_check_run(
        "promobot/policy", pr.head.sha, status="completed", conclusion="success"
    )
    assert run.app.id == github_sandbox.app_id
    assert [r.conclusion for r in repo.get_commit(pr.head.sha).get_check_runs()] == ["success"]
    assert auth.token.startswith("ghs_")


def test_app_endpoints_need_a_valid_jwt(github_sandbox: GitHubSandbox) -> None:
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(github_sandbox.app_id)}
    good = jwt.encode(claims, github_sandbox.app_private_key, algorithm="RS256")
    expired = jwt.encode(
        {**claims, "iat": now - 1200, "exp": now - 600}, github_sandbox.app_private_key, "RS256"
    )
    too_long = jwt.encode({**claims, "exp": now + 3600}, github_sandbox.app_private_key, "RS256")
    with github_sandbox.http() as http:
        app = http.get("/app", headers={"Authorization": f"Bearer {good}"})
        assert app.json()["slug"] == "promobot"
        installation = http.get(
            f"/repos/{github_sandbox.repo_name}/installation",
            headers={"Authorization": f"Bearer {good}"},
        )
        assert installation.json()["id"] == github_sandbox.installation_id
        token = http.post(
            f"/app/installations/{github_sandbox.installation_id}/access_tokens",
            headers={"Authorization": f"Bearer {good}"},
        ).json()
        expires_at = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
        assert 3000 < expires_at.timestamp() - time.time() <= 3600
        bot = http.get(
            f"/repos/{github_sandbox.repo_name}",
            headers={"Authorization": f"token {token['token']}"},
        )
        assert bot.status_code == 200
        for bad in (expired, too_long, good[:-4] + "AAAA"):
            response = http.post(
                f"/app/installations/{github_sandbox.installation_id}/access_tokens",
                headers={"Authorization": f"Bearer {bad}"},
            )
            assert response.status_code == 401
        user_token = http.get(
            "/app", headers={"Authorization": f"token {github_sandbox.tokens['alice']}"}
        )
        assert user_token.status_code == 401


def test_check_runs_need_an_app(github_sandbox: GitHubSandbox) -> None:
    """As on GitHub, only Apps write check runs; user tokens use commit statuses."""
    repo = github_sandbox.github("alice").get_repo(github_sandbox.repo_name)
    with pytest.raises(GithubException) as refused:
        repo.create_check_run("promobot/policy", repo.get_branch("main").commit.sha)
    assert refused.value.status == 403


def test_short_lived_installation_tokens_are_refreshed(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """PyGithub renews a token with less than 20 s left: a 20 s lifetime makes it renew
    on every request, which the request log shows."""
    checks = make_checks(rest_contract, webhook_contract)
    with start_github_sandbox(tmp_path, checks, app_token_ttl=20) as sandbox:
        gh = sandbox.github(auth=sandbox.app_installation_auth())
        gh.get_repo(sandbox.repo_name)
        gh.get_repo(sandbox.repo_name)
        exchanges = [r for r in sandbox.requests() if r["path"].endswith("/access_tokens")]
        assert len(exchanges) >= 2
        assert all(r["status"] == 201 for r in exchanges)


def test_draft_is_flipped_through_graphql(github_sandbox: GitHubSandbox) -> None:
    """REST cannot take a pull request out of draft; PyGithub uses these mutations."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    commit_on_branch(repo, "drafty", {"d.txt": "x\n"})
    pr = repo.create_pull(title="draft", body="", head="drafty", base="main", draft=True)
    pr.mark_ready_for_review()
    assert repo.get_pull(pr.number).draft is False
    github_sandbox.receiver.wait_for("pull_request", "ready_for_review")
    pr.convert_to_draft()
    assert repo.get_pull(pr.number).draft is True
    dave_pr = github_sandbox.github("dave").get_repo(github_sandbox.repo_name).get_pull(pr.number)
    with pytest.raises(GithubException):
        dave_pr.mark_ready_for_review()
