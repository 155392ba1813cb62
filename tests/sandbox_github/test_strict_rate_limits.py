"""Primary rate limits per token owner, conditional requests that cost nothing, and
paged lists, as GitHub answers them; the request log says what was counted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from tests.sandbox_github.helpers import open_pull, strict_sandbox
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import INSTALLATION_ID, GitHubSandbox


def test_rate_limit_headers_count_down(github_sandbox: GitHubSandbox) -> None:
    with github_sandbox.http("bob") as http:
        first = http.get(f"/repos/{github_sandbox.repo_name}")
        second = http.get(f"/repos/{github_sandbox.repo_name}")
        budget = http.get("/rate_limit").json()["resources"]["core"]
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert first.headers["x-ratelimit-resource"] == "core"
    assert int(first.headers["x-ratelimit-remaining"]) - 1 == int(
        second.headers["x-ratelimit-remaining"]
    )
    assert int(second.headers["x-ratelimit-used"]) == int(first.headers["x-ratelimit-used"]) + 1
    assert 0 < int(second.headers["x-ratelimit-reset"]) - time.time() <= 3600
    assert budget["used"] == int(second.headers["x-ratelimit-used"])


def test_conditional_requests_are_answered_304_and_not_counted(
    github_sandbox: GitHubSandbox,
) -> None:
    """PyGithub's `update()` sends If-None-Match and If-Modified-Since."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    assert pr.etag and pr.last_modified
    github_sandbox.clear_requests()
    assert pr.update() is False
    pr.add_to_labels("promotion")
    assert pr.update() is True
    assert pr.update() is False
    log = [(r["method"], r["status"], r["counted"]) for r in github_sandbox.requests()]
    assert log == [
        ("GET", 304, False),
        ("POST", 200, True),
        ("GET", 200, True),
        ("GET", 304, False),
    ]


def test_an_unchanged_list_answers_304_with_if_none_match(github_sandbox: GitHubSandbox) -> None:
    with github_sandbox.http("bob") as http:
        path = f"/repos/{github_sandbox.repo_name}/pulls"
        first = http.get(path)
        again = http.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]


def small_budgets(seed: dict[str, Any]) -> None:
    seed["rate_limits"] = {"users": 3, "installations": 2, "exceeded_status": 429}


def test_a_spent_budget_is_refused_until_the_reset(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """Each owner has its own budget; once spent, GitHub's words and remaining 0, while
    a conditional request that still matches keeps answering 304."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, small_budgets) as sb:
        with sb.http("bob") as http:
            path = f"/repos/{sb.repo_name}"
            answers = [http.get(path) for _ in range(4)]
            etag = answers[0].headers["etag"]
            conditional = http.get(path, headers={"If-None-Match": etag})
        bot = sb.github(auth=sb.app_installation_auth(), retry=None)
        repo = bot.get_repo(sb.repo_name)
        repo.get_branch("main")
        with pytest.raises(GithubException) as refused:
            repo.get_branch("main")
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["x-ratelimit-remaining"] == "0"
    assert answers[3].json()["message"].startswith("API rate limit exceeded for user ID ")
    assert conditional.status_code == 304
    assert refused.value.status == 429
    assert refused.value.data["message"] == (
        f"API rate limit exceeded for installation ID {INSTALLATION_ID}."
    )


def test_lists_are_paged_with_link_headers_at_most_100_per_page(
    github_sandbox: GitHubSandbox,
) -> None:
    bot = github_sandbox.github(auth=github_sandbox.app_installation_auth())
    repo = bot.get_repo(github_sandbox.repo_name)
    sha = repo.get_branch("main").commit.sha
    names = [f"check-{i:03}" for i in range(103)]
    for name in names:
        repo.create_check_run(name, sha, status="completed", conclusion="success")
    with github_sandbox.http("bob") as http:
        runs = f"/repos/{github_sandbox.repo_name}/commits/{sha}/check-runs"
        page = http.get(runs, params={"per_page": 1})
        default = http.get(runs)
        capped = http.get(runs, params={"per_page": 1000})
        last = http.get(runs, params={"per_page": 1000, "page": 2})
    assert page.json()["total_count"] == 103
    assert len(page.json()["check_runs"]) == 1
    assert 'rel="next"' in page.headers["link"]
    assert len(default.json()["check_runs"]) == 30
    assert len(capped.json()["check_runs"]) == 100  # per_page is capped at 100
    assert 'rel="next"' in capped.headers["link"]
    assert len(last.json()["check_runs"]) == 3
    assert sorted(r.name for r in repo.get_commit(sha).get_check_runs()) == names


def test_the_request_log_names_the_token_and_what_was_counted(
    github_sandbox: GitHubSandbox,
) -> None:
    bot = github_sandbox.github(auth=github_sandbox.app_installation_auth())
    bot.get_repo(github_sandbox.repo_name)
    entries = github_sandbox.requests()
    exchange = next(e for e in entries if e["path"].endswith("/access_tokens"))
    read = next(e for e in entries if e["path"].endswith("/repos/acme/models"))
    assert exchange["identity"]["kind"] == "app"
    assert read["identity"] == {
        "kind": "installation",
        "login": "promobot[bot]",
        "app_id": github_sandbox.app_id,
        "installation_id": INSTALLATION_ID,
    }
    assert read["counted"] is True
