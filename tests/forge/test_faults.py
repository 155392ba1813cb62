"""Retries: bounded, with backoff, on 5xx, 429 and rate-limit 403, honouring Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot.errors import ForgeError
from bot.forge.base import CommitState
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import app_settings, promote, token_settings
from tests.support.github_sandbox import GitHubSandbox

BRANCH_PATH = r"/branches/main$"


def attempts(sandbox: GitHubSandbox, suffix: str) -> list[int]:
    """Statuses the sandbox answered for requests whose path ends with `suffix`."""
    return [e["status"] for e in sandbox.requests() if e["path"].endswith(suffix)]


def test_server_errors_are_retried(forge: GitHubForge, github_sandbox: GitHubSandbox) -> None:
    """A flaky GitHub costs retries, not a failed promotion."""
    forge.default_branch()
    github_sandbox.clear_requests()
    for status in (500, 502, 503):
        github_sandbox.add_fault(BRANCH_PATH, status, method="GET", count=1)
    assert forge.default_branch().name == "main"
    # The branch was read before: the answer that gets through is a free 304.
    assert attempts(github_sandbox, "/branches/main") == [500, 502, 503, 304]


def test_writes_are_retried_too(forge: GitHubForge, github_sandbox: GitHubSandbox) -> None:
    """POST and PATCH of the promotion are retried: the operation is safe to repeat."""
    forge.default_branch()
    github_sandbox.add_fault(r"/git/trees$", 502, method="POST", count=1)
    github_sandbox.add_fault(r"/git/commits$", 500, method="POST", count=1)
    result = promote(forge, 2)
    assert result.pull_request.number == 1
    assert attempts(github_sandbox, "/git/trees") == [502, 201]


def test_retries_are_bounded(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """After `retry_total` retries the last answer is an error that says it is safe to repeat."""
    forge = make_forge(token_settings(github_sandbox, retry_total=2))
    github_sandbox.add_fault(BRANCH_PATH, 500, method="GET", count=50)
    with pytest.raises(ForgeError, match=r"HTTP 500") as raised:
        forge.default_branch()
    assert raised.value.hint is not None
    assert "safe to repeat" in raised.value.hint
    assert attempts(github_sandbox, "/branches/main") == [500, 500, 500]


def test_rate_limits_wait_for_retry_after(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """429 and secondary-limit 403 answers are retried after the `Retry-After` they name."""
    forge.default_branch()
    github_sandbox.clear_requests()
    github_sandbox.add_fault(BRANCH_PATH, 429, method="GET", count=1, retry_after=1)
    github_sandbox.add_fault(BRANCH_PATH, 403, method="GET", count=1, retry_after=1)
    started = time.monotonic()
    assert forge.default_branch().name == "main"
    assert time.monotonic() - started >= 2.0
    assert attempts(github_sandbox, "/branches/main") == [429, 403, 304]


def test_primary_rate_limit_waits_for_the_reset(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A 403 "API rate limit exceeded" without Retry-After waits for `x-ratelimit-reset`."""
    forge.default_branch()
    github_sandbox.clear_requests()
    github_sandbox.add_fault(
        BRANCH_PATH, 403, method="GET", count=1, primary_rate_limit=True, reset_in=2
    )
    started = time.monotonic()
    assert forge.default_branch().name == "main"
    assert time.monotonic() - started >= 1.0
    assert attempts(github_sandbox, "/branches/main") == [403, 304]


def test_429_without_retry_after_waits_for_the_reset(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A 429 that only names `x-ratelimit-reset` is not retried before the reset."""
    forge.default_branch()
    github_sandbox.clear_requests()
    github_sandbox.add_fault(BRANCH_PATH, 429, method="GET", count=1, retry_after=0, reset_in=1)
    started = time.monotonic()
    assert forge.default_branch().name == "main"
    assert time.monotonic() - started >= 1.0
    assert attempts(github_sandbox, "/branches/main") == [429, 304]


def test_reset_too_far_away_fails_at_once(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """Waiting an hour for a reset would stall every event: fail, to be repeated later."""
    forge.default_branch()
    github_sandbox.clear_requests()
    github_sandbox.add_fault(BRANCH_PATH, 429, method="GET", count=1, retry_after=0, reset_in=3600)
    with pytest.raises(ForgeError, match="rate limit") as raised:
        forge.default_branch()
    assert raised.value.hint is not None
    assert "safe to repeat" in raised.value.hint
    assert attempts(github_sandbox, "/branches/main") == [429]


def test_retry_after_is_capped(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A `Retry-After` of an hour does not hang the bot: the wait is bounded by settings."""
    forge = make_forge(app_settings(github_sandbox, max_rate_limit_wait_seconds=1))
    forge.default_branch()
    github_sandbox.add_fault(BRANCH_PATH, 429, method="GET", count=1, retry_after=3600)
    started = time.monotonic()
    assert forge.default_branch().name == "main"
    assert time.monotonic() - started < 10


def test_permission_errors_are_not_retried(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A 403 that is not a rate limit fails at once, with a hint about permissions."""
    forge = make_forge(token_settings(github_sandbox, login="dave"))
    sha = forge.default_branch().sha
    github_sandbox.clear_requests()
    with pytest.raises(ForgeError, match="HTTP 403") as raised:
        forge.set_commit_status(sha, CommitState.SUCCESS, "ok")
    assert raised.value.hint is not None
    assert "write access" in raised.value.hint
    assert attempts(github_sandbox, f"/statuses/{sha}") == [403]


def test_slow_answers_time_out_and_are_retried(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A hung connection costs one timeout, then the retry goes through."""
    forge = make_forge(token_settings(github_sandbox, timeout_seconds=1))
    github_sandbox.add_fault(BRANCH_PATH, None, method="GET", count=1, latency_ms=1500)
    assert forge.default_branch().name == "main"
