"""GitHub's plan and size limits: drafts in private repositories of a free owner, bodies
over 65,536 characters, status descriptions over 140, `client_payload` over 10 keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from tests.sandbox_github.helpers import commit_on_branch, open_pull, repository, strict_sandbox
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import GitHubSandbox


def private_repository(plan: str) -> Any:
    def change(seed: dict[str, Any]) -> None:
        repository(seed)["private"] = True
        seed["orgs"][0]["plan"] = plan

    return change


@pytest.mark.parametrize(("plan", "allowed"), [("free", False), ("team", True)])
def test_drafts_in_private_repositories_need_a_paid_plan(
    tmp_path: Path,
    rest_contract: RestContract,
    webhook_contract: WebhookContract,
    plan: str,
    allowed: bool,
) -> None:
    """`on_rejected: draft` meets this on GitHub Free: 422, and no pull request."""
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, private_repository(plan)) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        commit_on_branch(repo, "drafty", {"d.md": "d\n"})

        def open_draft() -> Any:
            return repo.create_pull(title="draft", body="", head="drafty", base="main", draft=True)

        if allowed:
            assert open_draft().draft
            return
        with pytest.raises(GithubException) as refused:
            open_draft()
        assert refused.value.status == 422
        assert refused.value.data["message"] == (
            "Draft pull requests are not supported in this repository."
        )
        assert repo.create_pull(title="plain", body="", head="drafty", base="main").number


def test_bodies_over_65536_characters_are_refused(github_sandbox: GitHubSandbox) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    too_long = "x" * 65537
    writes: list[Callable[[], object]] = [
        lambda: pr.edit(body=too_long),
        lambda: pr.create_issue_comment(too_long),
        lambda: pr.create_review(event="COMMENT", body=too_long),
    ]
    for write in writes:
        with pytest.raises(GithubException) as refused:
            write()
        assert refused.value.status == 422
    pr.edit(body="x" * 65536)
    assert len(repo.get_pull(pr.number).body) == 65536


def test_status_descriptions_over_140_characters_are_refused(
    github_sandbox: GitHubSandbox,
) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    commit = repo.get_commit(repo.get_branch("main").commit.sha)
    with pytest.raises(GithubException) as refused:
        commit.create_status("success", description="d" * 141, context="promobot/policy")
    assert refused.value.status == 422
    assert refused.value.data["errors"][0]["field"] == "description"
    commit.create_status("success", description="d" * 140, context="promobot/policy")


def test_client_payload_holds_at_most_10_keys(github_sandbox: GitHubSandbox) -> None:
    """PyGithub reports the 422 as False (it expects 204)."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    eleven = {f"k{i}": i for i in range(11)}
    assert repo.create_repository_dispatch("promobot-propose", eleven) is False
    assert github_sandbox.requests()[-1]["status"] == 422
    assert repo.create_repository_dispatch("promobot-propose", {f"k{i}": i for i in range(10)})


def test_client_payload_must_stay_under_64_kb(github_sandbox: GitHubSandbox) -> None:
    """One key of 64 KB is refused with 422; just under the limit is delivered."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    assert repo.create_repository_dispatch("promobot-propose", {"x": "y" * 65_536}) is False
    assert github_sandbox.requests()[-1]["status"] == 422
    assert repo.create_repository_dispatch("promobot-propose", {"x": "y" * 60_000})
    assert github_sandbox.requests()[-1]["status"] == 204
