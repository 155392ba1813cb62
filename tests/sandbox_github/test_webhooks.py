"""Webhook deliveries: GitHub's headers and signature, octokit-valid payloads for every
event promobot reacts to, and a delivery log with redelivery."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest
from promobot_sandbox.github.webhooks import signature_256

from tests.sandbox_github.helpers import MANIFEST, commit_on_branch, open_pull
from tests.support.contract import WebhookContract
from tests.support.github_sandbox import GitHubSandbox


def assert_valid(
    contract: WebhookContract, event: str, payload: Any, *, schema_expected: bool = True
) -> None:
    action = payload.get("action")
    assert (contract.schema_for(event, action) is not None) == schema_expected, (event, action)
    assert contract.check(event, payload) == []


def test_signature_matches_githubs_test_vector(read_fixture: Callable[[str], Any]) -> None:
    """Receivers verify with GitHub's algorithm; the sandbox must sign the same way."""
    vector = read_fixture("github/signature-test-vector.json")
    assert signature_256(vector["secret"], vector["payload"].encode()) == vector["expected_header"]


def test_pull_request_lifecycle_events_are_signed_and_valid(
    github_sandbox: GitHubSandbox, webhook_contract: WebhookContract
) -> None:
    """opened, labeled, synchronize, closed (unmerged), reopened, closed (merged): the
    events the gate-and-merge workflow listens to, shaped like octokit's schemas."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    pr.add_to_labels("promotion")
    commit_on_branch(repo, "promobot/production/churn", {MANIFEST: "version: '3'\n"})
    pr.edit(state="closed")
    pr.edit(state="open")
    pr.merge(merge_method="squash")
    receiver = github_sandbox.receiver
    for action in ("opened", "labeled", "synchronize", "reopened"):
        delivery = receiver.wait_for("pull_request", action)
        assert_valid(webhook_contract, "pull_request", delivery.payload)
    unmerged = receiver.wait_for(
        "pull_request", "closed", lambda d: not d.payload["pull_request"]["merged"]
    )
    merged = receiver.wait_for(
        "pull_request", "closed", lambda d: d.payload["pull_request"]["merged"]
    )
    for delivery in (unmerged, merged):
        assert_valid(webhook_contract, "pull_request", delivery.payload)
        assert delivery.signature_ok()
    assert merged.payload["pull_request"]["merge_commit_sha"] == repo.get_branch("main").commit.sha
    assert merged.payload["pull_request"]["merged_by"]["login"] == "bob"
    sync = receiver.wait_for("pull_request", "synchronize").payload
    assert sync["after"] == sync["pull_request"]["head"]["sha"] != sync["before"]
    labeled = receiver.wait_for("pull_request", "labeled").payload
    assert labeled["label"]["name"] == "promotion"


def test_delivery_headers_are_githubs(github_sandbox: GitHubSandbox) -> None:
    """The bot authenticates deliveries by these headers before parsing anything."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    open_pull(repo)
    delivery = github_sandbox.receiver.wait_for("pull_request", "opened")
    headers = delivery.headers
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert headers["x-github-event"] == "pull_request"
    assert len(headers["x-github-delivery"]) == 36
    assert headers["content-type"] == "application/json"
    expected = hmac.new(b"sandbox-webhook-secret", delivery.body, hashlib.sha256).hexdigest()
    assert headers["x-hub-signature-256"] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("event", "state", "body"),
    [
        ("APPROVE", "approved", "ship it"),
        ("REQUEST_CHANGES", "changes_requested", "no"),
        ("COMMENT", "commented", "hm"),
    ],
)
def test_review_submitted_payloads(
    github_sandbox: GitHubSandbox,
    webhook_contract: WebhookContract,
    event: str,
    state: str,
    body: str,
) -> None:
    """Approvals are what merges wait for: every review state must reach the bot."""
    pr = open_pull(github_sandbox.github("bob").get_repo(github_sandbox.repo_name))
    carol_pr = github_sandbox.github("carol").get_repo(github_sandbox.repo_name).get_pull(pr.number)
    carol_pr.create_review(event=event, body=body)
    payload = github_sandbox.receiver.wait_for("pull_request_review", "submitted").payload
    assert_valid(webhook_contract, "pull_request_review", payload)
    assert payload["review"]["state"] == state
    assert payload["review"]["commit_id"] == pr.head.sha
    assert payload["sender"]["login"] == "carol"


def test_comment_on_pull_request_payload(
    github_sandbox: GitHubSandbox, webhook_contract: WebhookContract
) -> None:
    """Comment commands (`/promobot merge`) arrive as issue_comment on a pull request."""
    pr = open_pull(github_sandbox.github("bob").get_repo(github_sandbox.repo_name))
    pr.create_issue_comment("/promobot merge")
    payload = github_sandbox.receiver.wait_for("issue_comment", "created").payload
    assert_valid(webhook_contract, "issue_comment", payload)
    assert payload["issue"]["pull_request"]["url"].endswith(f"/pulls/{pr.number}")
    assert payload["comment"]["body"] == "/promobot merge"


def test_status_check_run_deployment_and_dispatch_payloads(
    github_sandbox: GitHubSandbox, webhook_contract: WebhookContract
) -> None:
    """status and check_run re-trigger the gate; deployment_status reports CD;
    repository_dispatch starts a proposal."""
    bot = github_sandbox.github(auth=github_sandbox.app_installation_auth())
    repo = bot.get_repo(github_sandbox.repo_name)
    sha = repo.get_branch("main").commit.sha
    repo.get_commit(sha).create_status(
        "success", "https://ci.example/1", "policy passed", "promobot/policy"
    )
    run = repo.create_check_run("promobot/policy", sha, status="in_progress")
    run.edit(conclusion="success", output={"title": "ok", "summary": "all rules pass"})
    deployment = repo.create_deployment(ref="main", environment="production", required_contexts=[])
    deployment.create_status("success", environment_url="http://127.0.0.1/serving")
    repo.create_repository_dispatch(
        "promobot-propose", {"model": "churn-classifier", "version": "2"}
    )
    receiver = github_sandbox.receiver
    assert_valid(webhook_contract, "status", receiver.wait_for("status").payload)
    completed = receiver.wait_for("check_run", "completed").payload
    assert_valid(webhook_contract, "check_run", completed)
    assert completed["check_run"]["conclusion"] == "success"
    assert completed["sender"]["login"] == "promobot[bot]"
    dispatch = receiver.wait_for("repository_dispatch").payload
    assert_valid(webhook_contract, "repository_dispatch", dispatch)
    assert dispatch["action"] == "promobot-propose"
    assert dispatch["client_payload"]["version"] == "2"
    status = receiver.wait_for("deployment_status", "created").payload
    assert_valid(webhook_contract, "deployment_status", status)
    assert status["deployment_status"]["state"] == "success"
    assert status["deployment"]["id"] == deployment.id
    assert status["deployment"]["environment"] == "production"


def test_delivery_log_and_redelivery(github_sandbox: GitHubSandbox) -> None:
    """A receiver that was down can ask for a delivery again, as on GitHub: same GUID,
    marked as a redelivery, recorded in the hook's delivery log."""
    github_sandbox.receiver.status = 503
    open_pull(github_sandbox.github("bob").get_repo(github_sandbox.repo_name))
    github_sandbox.receiver.wait_for("pull_request", "opened")
    github_sandbox.wait_deliveries_sent()
    http = github_sandbox.http("alice")
    hook = http.get(f"/repos/{github_sandbox.repo_name}/hooks").json()[0]
    deliveries = http.get(f"/repos/{github_sandbox.repo_name}/hooks/{hook['id']}/deliveries").json()
    opened = next(d for d in deliveries if d["event"] == "pull_request" and d["action"] == "opened")
    assert opened["status_code"] == 503
    assert not opened["redelivery"]
    detail = http.get(
        f"/repos/{github_sandbox.repo_name}/hooks/{hook['id']}/deliveries/{opened['id']}"
    ).json()
    assert detail["request"]["headers"]["X-GitHub-Event"] == "pull_request"
    github_sandbox.receiver.status = 200
    attempt = http.post(
        f"/repos/{github_sandbox.repo_name}/hooks/{hook['id']}/deliveries/{opened['id']}/attempts"
    )
    assert attempt.status_code == 202
    again = github_sandbox.receiver.wait_for(
        "pull_request",
        "opened",
        lambda d: d.headers["x-github-delivery"] == opened["guid"] and d is not None,
    )
    assert again.signature_ok()
    github_sandbox.wait_deliveries_sent()
    log = http.get(f"/repos/{github_sandbox.repo_name}/hooks/{hook['id']}/deliveries").json()
    redelivered = [d for d in log if d["guid"] == opened["guid"] and d["redelivery"]]
    assert [d["status_code"] for d in redelivered] == [200]
    assert len(github_sandbox.receiver.of("pull_request", "opened")) == 2


def test_non_admin_cannot_read_hooks(github_sandbox: GitHubSandbox) -> None:
    """Hook secrets and delivery logs belong to repository admins."""
    response = github_sandbox.http("bob").get(f"/repos/{github_sandbox.repo_name}/hooks")
    assert response.status_code == 403
    assert "admin" in response.json()["message"]
