"""One App webhook hears every repository of its installations, with `installation` in
each payload; `repository_dispatch` reaches Apps only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from promobot_sandbox.errors import SeedError
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.seed import Seed, apply_seed

from tests.sandbox_github.helpers import app, open_pull, repository, strict_sandbox
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import INSTALLATION_ID, WEBHOOK_SECRET, GitHubSandbox

OTHER = "acme/webapp"


def second_repository_and_app_hook(seed: dict[str, Any]) -> None:
    """acme/webapp has no hook of its own; the App hears both repositories."""
    models = repository(seed)
    seed["repositories"].append(
        {"full_name": OTHER, "content": models["content"], "collaborators": {"bob": "write"}}
    )
    hook = app(seed)["webhook"]
    hook["events"] = ["pull_request", "issue_comment", "push"]
    hook["url"] = hook["url"].replace("/webhooks/github", "/webhooks/app")


def is_app_delivery(delivery: Any) -> bool:
    return bool(delivery.headers.get("x-github-hook-installation-target-type") == "integration")


def test_the_app_webhook_hears_every_installed_repository(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    with strict_sandbox(
        tmp_path, rest_contract, webhook_contract, second_repository_and_app_hook
    ) as sb:
        for name in (sb.repo_name, OTHER):
            open_pull(sb.github("bob").get_repo(name))
        receiver = sb.receiver
        sb.wait_deliveries_sent()
        opened = [d for d in receiver.of("pull_request", "opened") if is_app_delivery(d)]
        repository_hook = [
            d for d in receiver.of("pull_request", "opened") if not is_app_delivery(d)
        ]
    heard = sorted(d.payload["repository"]["full_name"] for d in opened)
    assert heard == sorted([OTHER, sb.repo_name])
    assert all(d.payload["installation"]["id"] == INSTALLATION_ID for d in opened)
    assert all(d.headers["x-github-hook-installation-target-id"] == str(sb.app_id) for d in opened)
    assert all(d.signature_ok(WEBHOOK_SECRET) for d in opened)
    assert [d.payload["repository"]["full_name"] for d in repository_hook] == [sb.repo_name]
    assert "installation" not in repository_hook[0].payload


def test_repository_dispatch_reaches_apps_only(github_sandbox: GitHubSandbox) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    repo.create_repository_dispatch("promobot-propose", {"model": "churn-classifier"})
    delivery = github_sandbox.receiver.wait_for("repository_dispatch")
    github_sandbox.wait_deliveries_sent()
    assert is_app_delivery(delivery)
    assert delivery.payload["installation"]["id"] == INSTALLATION_ID
    assert len(github_sandbox.receiver.of("repository_dispatch")) == 1


def test_an_app_may_subscribe_only_to_events_its_permissions_cover(
    github_sandbox: GitHubSandbox,
) -> None:
    """GitHub refuses the subscription; the sandbox refuses the seed."""
    raw = {
        "apps": [
            {
                "id": 9,
                "slug": "nosy",
                "owner": "acme",
                "permissions": {"contents": "read"},
                "webhook": {"url": "http://127.0.0.1:1/hook", "events": ["pull_request"]},
            }
        ]
    }
    sandbox: Sandbox = github_sandbox.server.sandbox
    with pytest.raises(SeedError) as refused:
        apply_seed(sandbox, Seed.model_validate(raw), github_sandbox.data_dir)
    assert "pull_requests" in str(refused.value)
