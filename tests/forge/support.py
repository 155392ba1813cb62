"""Helpers for the forge adapter tests: settings for both sign-in modes, forges, promotions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bot.forge.base import Forge, PromotionPR
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import (
    DEFAULT_CONTENT,
    REPO_NAME,
    GitHubSandbox,
    WebhookReceiver,
    app_key_pem,
    default_seed,
    make_checks,
    start_github_sandbox,
    write_content,
)

SeedChange = Callable[[dict[str, Any]], None]

MANIFEST = "model-manifests/production/churn-classifier.yaml"
APP_BOT = "promobot[bot]"


def manifest_text(version: int) -> str:
    """A manifest naming `version`; each version is different content."""
    return (
        "apiVersion: promobot/v1\nkind: ModelManifest\nmodel: churn-classifier\n"
        f'environment: production\nversion: "{version}"\n'
    )


def app_settings(sandbox: GitHubSandbox, **overrides: Any) -> GitHubSettings:
    """Settings for the seeded App installation, with test-sized waits."""
    values: dict[str, Any] = {
        "base_url": sandbox.base_url,
        "repository": sandbox.repo_name,
        "app_id": sandbox.app_id,
        "installation_id": sandbox.installation_id,
        "private_key": sandbox.app_private_key,
        "bot_login": APP_BOT,
        "seconds_between_writes": 0,
        "retry_total": 3,
        "retry_backoff_seconds": 0.01,
        "secondary_rate_wait_seconds": 0.2,
        "max_rate_limit_wait_seconds": 5,
    }
    values.update(overrides)
    return GitHubSettings(**values)


def token_settings(sandbox: GitHubSandbox, login: str = "bob", **overrides: Any) -> GitHubSettings:
    """Settings for a user token (bob has write access)."""
    values: dict[str, Any] = {
        "base_url": sandbox.base_url,
        "repository": sandbox.repo_name,
        "token": sandbox.tokens[login],
        "bot_login": login,
        "seconds_between_writes": 0,
        "retry_total": 3,
        "retry_backoff_seconds": 0.01,
        "secondary_rate_wait_seconds": 0.2,
        "max_rate_limit_wait_seconds": 5,
    }
    values.update(overrides)
    return GitHubSettings(**values)


@pytest.fixture
def make_forge(github_sandbox: GitHubSandbox) -> Iterator[Callable[[GitHubSettings], GitHubForge]]:
    """Builds forges on the sandbox (started first) and closes them at teardown."""
    del github_sandbox
    built: list[GitHubForge] = []

    def build(settings: GitHubSettings) -> GitHubForge:
        forge = GitHubForge(settings)
        built.append(forge)
        return forge

    yield build
    for forge in built:
        forge.close()


@pytest.fixture
def forge(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> GitHubForge:
    """The adapter as the bot runs in production: a GitHub App installation."""
    return make_forge(app_settings(github_sandbox))


def promote(forge: Forge, version: int, **overrides: Any) -> PromotionPR:
    """Open or update the churn-classifier promotion for `version`."""
    values: dict[str, Any] = {
        "model": "churn-classifier",
        "environment": "production",
        "manifest_path": MANIFEST,
        "manifest_text": manifest_text(version),
        "title": f"Promote churn-classifier v{version} to production",
        "body": f"## Report\nchallenger v{version} beats the champion",
        "labels": ["promotion", "model:churn-classifier"],
        "reviewers": ["carol"],
        "team_reviewers": ["ml-reviewers"],
    }
    values.update(overrides)
    return forge.open_or_update_promotion(**values)


@pytest.fixture
def make_sandbox(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> Iterator[Callable[[SeedChange], GitHubSandbox]]:
    """Starts sandboxes on the default seed as a callable edits it (protection, plans,
    permissions); stops them, and closes their clients, at teardown."""
    with ExitStack() as stack:
        count = 0

        def start(change: SeedChange) -> GitHubSandbox:
            nonlocal count
            count += 1
            folder = tmp_path / f"sandbox-{count}"
            receiver = WebhookReceiver()
            stack.callback(receiver.close)
            content = write_content(folder / "content", DEFAULT_CONTENT)
            key_file = folder / "app.pem"
            key_file.write_text(app_key_pem())
            seed = default_seed(receiver.url, content, key_file)
            change(seed)
            checks = make_checks(rest_contract, webhook_contract)
            sandbox = stack.enter_context(start_github_sandbox(folder, checks, seed=seed))
            sandbox.receiver = receiver
            return sandbox

        yield start


def repository(seed: dict[str, Any], full_name: str = REPO_NAME) -> dict[str, Any]:
    """The seed's entry for a repository, to edit in place."""
    found: dict[str, Any] = next(r for r in seed["repositories"] if r["full_name"] == full_name)
    return found


def protect(**rules: Any) -> SeedChange:
    """A seed change: classic branch protection of main."""

    def change(seed: dict[str, Any]) -> None:
        repository(seed)["branch_protection"] = {"main": rules}

    return change


def counted(sandbox: GitHubSandbox, method: str, suffix: str) -> list[int]:
    """Statuses of the requests with `method` whose path ends with `suffix`, in order."""
    return [
        entry["status"]
        for entry in sandbox.requests()
        if entry["method"] == method and entry["path"].endswith(suffix)
    ]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
