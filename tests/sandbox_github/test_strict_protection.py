"""Branch protection and rulesets from the seed, enforced on merges and pushes with
GitHub's status codes and words, driven with unmodified PyGithub."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from github import GithubException, InputGitAuthor

from tests.sandbox_github.helpers import (
    MANIFEST,
    commit_on_branch,
    open_pull,
    repository,
    strict_sandbox,
    wait_mergeable,
)
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import APP_ID, GitHubSandbox

BRANCH = "promobot/production/churn"


def protect(**rules: Any) -> Any:
    def change(seed: dict[str, Any]) -> None:
        repository(seed)["branch_protection"] = {"main": rules}

    return change


def ruleset(*rules: dict[str, Any], include: str = "~DEFAULT_BRANCH") -> Any:
    def change(seed: dict[str, Any]) -> None:
        repository(seed)["rulesets"] = [
            {
                "name": "promotion",
                "conditions": {"ref_name": {"include": [include]}},
                "rules": rules,
            }
        ]

    return change


def refusal(call: Any) -> tuple[int, str]:
    with pytest.raises(GithubException) as refused:
        call()
    return refused.value.status, str(refused.value.data["message"])


def test_required_approvals_block_the_merge(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    change = protect(required_pull_request_reviews={"required_approving_review_count": 1})
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        pr = open_pull(repo)
        assert refusal(lambda: pr.merge(merge_method="squash")) == (
            405,
            "At least 1 approving review is required by reviewers with write access.",
        )
        carol = sb.github("carol").get_repo(sb.repo_name).get_pull(pr.number)
        carol.create_review(event="APPROVE")
        assert pr.merge(merge_method="squash").merged


def test_stale_approvals_are_dismissed_by_a_push(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """An approval never covers commits pushed after it when the branch says so."""
    change = protect(
        required_pull_request_reviews={
            "required_approving_review_count": 1,
            "dismiss_stale_reviews": True,
        }
    )
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        pr = open_pull(repo)
        sb.github("carol").get_repo(sb.repo_name).get_pull(pr.number).create_review(event="APPROVE")
        commit_on_branch(repo, BRANCH, {MANIFEST: "version: '3'\n"})
        dismissed = sb.receiver.wait_for("pull_request_review", "dismissed").payload
        assert [r.state for r in pr.get_reviews()] == ["DISMISSED"]
        assert wait_mergeable(repo, pr.number).mergeable_state == "blocked"
        status, _ = refusal(lambda: pr.merge(merge_method="squash"))
    assert status == 405
    assert dismissed["review"]["state"] == "dismissed"


def test_a_required_check_pinned_to_the_app_counts_only_from_the_app(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """A person posting the verdict's context cannot satisfy a check pinned to the App."""
    change = protect(
        required_status_checks={
            "strict": False,
            "checks": [{"context": "promobot/policy", "app_id": APP_ID}],
        }
    )
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        pr = open_pull(repo)
        repo.get_commit(pr.head.sha).create_status("success", context="promobot/policy")
        assert refusal(lambda: pr.merge(merge_method="squash")) == (
            405,
            'Required status check "promobot/policy" is expected.',
        )
        bot = sb.github(auth=sb.app_installation_auth()).get_repo(sb.repo_name)
        bot.create_check_run(
            "promobot/policy", pr.head.sha, status="completed", conclusion="success"
        )
        assert pr.merge(merge_method="squash").merged


def test_strict_checks_need_an_up_to_date_branch_and_update_branch_brings_it(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """GitHub's "Update branch" merges the base into the head with a two-parent commit it
    makes and signs; the guard on the expected head refuses a stale request."""
    change = protect(required_status_checks={"strict": True, "contexts": []})
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        pr = open_pull(repo)
        commit_on_branch(sb.github("alice").get_repo(sb.repo_name), "main", {"a.md": "a\n"})
        assert wait_mergeable(repo, pr.number).mergeable_state == "behind"
        assert refusal(lambda: pr.merge(merge_method="squash")) == (
            405,
            "Head branch is not up to date with the base branch.",
        )
        assert pr.update_branch(expected_head_sha="0" * 40) is False
        assert pr.update_branch(expected_head_sha=pr.head.sha) is True
        head = repo.get_commit(repo.get_pull(pr.number).head.sha)
        assert len(head.parents) == 2
        assert head.commit.committer.name == "GitHub"
        assert head.commit.raw_data["verification"]["verified"] is True
        sb.receiver.wait_for("pull_request", "synchronize")
        assert wait_mergeable(repo, pr.number).mergeable_state == "clean"
        assert pr.merge(merge_method="squash").merged


def test_branch_protection_can_be_read(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    change = protect(
        required_status_checks={"strict": True, "contexts": ["ci"]},
        required_pull_request_reviews={"required_approving_review_count": 2},
        required_signatures=True,
    )
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        repo = sb.github("alice").get_repo(sb.repo_name)
        commit_on_branch(repo, "feature", {"f.md": "f\n"})
        main = repo.get_branch("main")
        protection = main.get_protection()
        assert main.protected
        assert protection.required_status_checks.strict
        assert protection.required_status_checks.contexts == ["ci"]
        assert protection.required_pull_request_reviews.required_approving_review_count == 2
        assert main.get_required_signatures()
        assert refusal(lambda: repo.get_branch("feature").get_protection()) == (
            404,
            "Branch not protected",
        )


def test_a_ruleset_requires_signed_commits_on_promotion_branches(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """GitHub signs an App's API commits only when they name no author or committer."""
    change = ruleset({"type": "required_signatures"}, include="refs/heads/promobot/**")
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        bot = sb.github(auth=sb.app_installation_auth()).get_repo(sb.repo_name)
        main = bot.get_git_commit(bot.get_branch("main").commit.sha)
        signed = bot.create_git_commit("Promote", main.tree, [main])
        custom = bot.create_git_commit(
            "Promote", main.tree, [main], author=InputGitAuthor("promobot", "p@example.com")
        )
        status, message = refusal(lambda: bot.create_git_ref(f"refs/heads/{BRANCH}", custom.sha))
        assert status == 422
        assert message == (
            "Repository rule violations found\n\nCommits must have verified signatures."
        )
        assert bot.create_git_ref(f"refs/heads/{BRANCH}", signed.sha).object.sha == signed.sha
        assert bot.create_git_ref("refs/heads/elsewhere", custom.sha)


def test_required_signatures_refuse_unsigned_commits_in_a_merge(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """A merge commit carries the pull request's unsigned commits; GitHub signs a squash,
    but only for the pull request's author."""
    with strict_sandbox(
        tmp_path, rest_contract, webhook_contract, protect(required_signatures=True)
    ) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        pr = open_pull(repo)
        message = "Commits must have verified signatures."
        assert refusal(lambda: pr.merge(merge_method="merge")) == (405, message)
        carol = sb.github("carol").get_repo(sb.repo_name).get_pull(pr.number)
        assert refusal(lambda: carol.merge(merge_method="squash")) == (405, message)
        merged = pr.merge(merge_method="squash")
        assert repo.get_commit(merged.sha).commit.raw_data["verification"]["verified"] is True


def test_direct_pushes_to_a_protected_branch_are_refused(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    """Changes go through a pull request: the API answers 422 and `git push` GH006."""
    change = protect(required_pull_request_reviews={"required_approving_review_count": 1})
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        repo = sb.github("bob").get_repo(sb.repo_name)
        status, message = refusal(lambda: commit_on_branch(repo, "main", {"x.md": "x\n"}))
        assert status == 422
        assert message.endswith("Changes must be made through a pull request.")
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(sb.bare_path()), str(clone)], check=True)
        (clone / "x.md").write_text("x\n")
        for args in (
            ["config", "user.email", "bob@example.com"],
            ["config", "user.name", "Bob"],
            ["add", "x.md"],
            ["commit", "-q", "-m", "direct"],
        ):
            subprocess.run(["git", *args], cwd=clone, check=True)
        pushed = subprocess.run(
            ["git", "push", "origin", "HEAD:main"],
            cwd=clone,
            capture_output=True,
            text=True,
            check=False,
        )
    assert pushed.returncode != 0
    assert "GH006: Protected branch update failed for refs/heads/main." in pushed.stderr
    assert "Changes must be made through a pull request." in pushed.stderr


def test_ruleset_rules_are_listed_for_a_branch(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    change = ruleset(
        {
            "type": "required_status_checks",
            "parameters": {
                "required_status_checks": [{"context": "promobot/policy", "integration_id": APP_ID}]
            },
        },
        {"type": "non_fast_forward"},
    )
    with strict_sandbox(tmp_path, rest_contract, webhook_contract, change) as sb:
        http = sb.http("bob")
        rules = http.get(f"/repos/{sb.repo_name}/rules/branches/main").json()
        elsewhere = http.get(f"/repos/{sb.repo_name}/rules/branches/feature").json()
    assert [r["type"] for r in rules] == ["required_status_checks", "non_fast_forward"]
    assert rules[0]["parameters"]["required_status_checks"][0]["integration_id"] == APP_ID
    assert rules[0]["ruleset_source"] == "acme/models"
    assert elsewhere == []


def test_protection_does_not_hold_back_unprotected_branches(github_sandbox: GitHubSandbox) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    assert not repo.get_branch("main").protected
    assert open_pull(repo).merge(merge_method="merge").merged


def test_each_pull_request_head_is_published_and_cannot_be_pushed(
    github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    """`refs/pull/N/head` follows the pull request's head; a `git push` to it is refused."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    bare = str(github_sandbox.bare_path())

    def published() -> str:
        listed = subprocess.run(
            ["git", "ls-remote", bare, f"refs/pull/{pr.number}/head"],
            capture_output=True,
            text=True,
            check=True,
        )
        return listed.stdout.split("\t")[0]

    assert published() == pr.head.sha
    moved = commit_on_branch(repo, pr.head.ref, {"y.md": "y\n"})
    assert published() == moved
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", bare, str(clone)], check=True)
    pushed = subprocess.run(
        ["git", "push", "origin", f"HEAD:refs/pull/{pr.number}/head"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert pushed.returncode != 0
    assert "deny updating a hidden ref" in pushed.stderr
    assert published() == moved
