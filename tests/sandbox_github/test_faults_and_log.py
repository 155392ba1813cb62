"""The `/_sandbox/` hooks: the request log benchmarks count, and injected faults."""

from __future__ import annotations

import threading
import time

import pytest
from github import GithubException, GithubRetry

from tests.support.github_sandbox import GitHubSandbox
from tests.support.http import LOCAL


def test_request_log_lists_and_clears(github_sandbox: GitHubSandbox) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    github_sandbox.clear_requests()
    repo.get_branch("main")
    with pytest.raises(GithubException):
        repo.get_pull(99)
    bob = {"kind": "user", "login": "bob", "app_id": None, "installation_id": None}
    assert github_sandbox.requests() == [
        {
            "method": "GET",
            "path": "/api/v3/repos/acme/models/branches/main",
            "query": "",
            "status": 200,
            "counted": True,
            "identity": bob,
        },
        {
            "method": "GET",
            "path": "/api/v3/repos/acme/models/pulls/99",
            "query": "",
            "status": 404,
            "counted": True,
            "identity": bob,
        },
    ]
    github_sandbox.clear_requests()
    assert github_sandbox.requests() == []


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_for_a_count_then_recovery(
    github_sandbox: GitHubSandbox, status: int
) -> None:
    github_sandbox.add_fault(r"/pulls$", status, method="POST", count=2)
    with github_sandbox.http("bob") as http:
        body = {"title": "t", "head": "main", "base": "main"}
        codes = [
            http.post(f"/repos/{github_sandbox.repo_name}/pulls", json=body).status_code
            for _ in range(3)
        ]
        listed = http.get(f"/repos/{github_sandbox.repo_name}/pulls")
    assert codes == [status, status, 422]
    assert listed.status_code == 200


def test_secondary_rate_limit_and_429_carry_retry_after(github_sandbox: GitHubSandbox) -> None:
    """The adapter's retries honour these headers."""
    github_sandbox.add_fault(r"/repos/acme/models$", 403, retry_after=2)
    github_sandbox.add_fault(r"/repos/acme/models$", 429, retry_after=3)
    with github_sandbox.http("bob") as http:
        secondary = http.get(f"/repos/{github_sandbox.repo_name}")
        too_many = http.get(f"/repos/{github_sandbox.repo_name}")
        fine = http.get(f"/repos/{github_sandbox.repo_name}")
    assert secondary.status_code == 403
    assert secondary.headers["retry-after"] == "2"
    assert "secondary rate limit" in secondary.json()["message"]
    assert too_many.status_code == 429
    assert too_many.headers["retry-after"] == "3"
    assert too_many.headers["x-ratelimit-remaining"] == "0"
    assert fine.status_code == 200


def test_primary_rate_limit_names_the_reset_time(github_sandbox: GitHubSandbox) -> None:
    github_sandbox.add_fault(r"/user$", 403, primary_rate_limit=True, retry_after=5)
    with github_sandbox.http("bob") as http:
        limited = http.get("/user")
    assert limited.status_code == 403
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(limited.headers["x-ratelimit-reset"]) - time.time() <= 6
    assert "retry-after" not in limited.headers


def test_pygithub_retries_through_a_transient_502(github_sandbox: GitHubSandbox) -> None:
    """PyGithub's own retry policy (GithubRetry) sees the fault and recovers."""
    github_sandbox.add_fault(r"/repos/acme/models$", 502, method="GET", count=1)
    gh = github_sandbox.github("bob", retry=GithubRetry(total=2, backoff_factor=0.01))
    assert gh.get_repo(github_sandbox.repo_name).name == "models"
    statuses = [
        r["status"] for r in github_sandbox.requests() if r["path"].endswith("/repos/acme/models")
    ]
    assert statuses == [502, 200]


def test_added_latency(github_sandbox: GitHubSandbox) -> None:
    github_sandbox.add_fault(r"/user$", None, latency_ms=300)
    with github_sandbox.http("bob") as http:
        started = time.monotonic()
        assert http.get("/user").status_code == 200
        slow = time.monotonic() - started
        started = time.monotonic()
        http.get("/user")
        fast = time.monotonic() - started
    assert slow >= 0.3 > fast


def test_a_late_answer_comes_after_the_write_is_done(github_sandbox: GitHubSandbox) -> None:
    """What a client killed while waiting leaves behind: the write, never its answer."""
    github_sandbox.add_fault(
        r"/issues/1/comments$", None, method="POST", latency_ms=3000, answer_late=True
    )
    answered = threading.Event()

    def post() -> None:
        with github_sandbox.http("bob") as http:
            http.post("/repos/acme/models/issues/1/comments", json={"body": "late"})
        answered.set()

    thread = threading.Thread(target=post)
    thread.start()
    with github_sandbox.http("bob") as http:
        deadline = time.monotonic() + 10
        while not http.get("/repos/acme/models/issues/1/comments").json():
            assert time.monotonic() < deadline, "the comment was never written"
            time.sleep(0.05)
    assert not answered.is_set(), "the answer came before the delay"
    thread.join(timeout=10)
    assert answered.is_set()


def test_faults_can_be_listed_and_cleared(github_sandbox: GitHubSandbox) -> None:
    github_sandbox.add_fault(r".*", 500, count=5)
    assert len(LOCAL.get(f"{github_sandbox.url}/_sandbox/faults").json()) == 1
    LOCAL.delete(f"{github_sandbox.url}/_sandbox/faults")
    with github_sandbox.http("bob") as http:
        assert http.get("/user").status_code == 200
    bad = LOCAL.post(f"{github_sandbox.url}/_sandbox/faults", json={"path": ".*", "status": 418})
    assert bad.status_code == 422


def test_fault_without_retry_after_and_with_extra_headers(github_sandbox: GitHubSandbox) -> None:
    """A 429 that only says when the limit resets: the adapter's other back-off path."""
    github_sandbox.add_fault(r"/user$", 429, retry_after=0, reset_in=2, headers={"X-Custom": "1"})
    with github_sandbox.http("bob") as http:
        limited = http.get("/user")
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers
    assert limited.headers["x-custom"] == "1"
    assert 0 < int(limited.headers["x-ratelimit-reset"]) - time.time() <= 3
