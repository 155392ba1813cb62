"""One GitHub App for an organisation, against the strict sandbox: its webhook hears every
installed repository, the verdict is the App's own, GitHub's protection is obeyed.

The App is installed on `acme/models` (the GitOps repository) and `acme/webapp` (an
unrelated one). Its webhook delivers to a receiver; the test hands each delivery, parsed
as the service parses it, to the router the service runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.app import ServedRepositories, workflows_factory
from bot.cli.main import app
from bot.forge.permissions import EVENTS
from bot.forge.settings import GitHubSettings
from bot.recipe import Recipe
from bot.settings import Settings
from bot.store.sql import SqlEventStore
from bot.webhooks.github import parse_github
from bot.workflows.propose import propose
from bot.workflows.routing import Router
from tests.support.github_sandbox import (
    APP_ID,
    APP_PERMISSIONS,
    REPO_NAME,
    WEBHOOK_SECRET,
    GitHubSandbox,
    WebhookReceiver,
    app_key_pem,
    default_seed,
    make_checks,
    start_github_sandbox,
    write_content,
)
from tests.support.mlflow_models import MODEL, TrainedRegistry
from tests.workflows.conftest import BOT_LOGIN, repository_content

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
WEBAPP = "acme/webapp"
SeedChange = Callable[[dict[str, Any]], None]


@dataclass
class Organisation:
    """The sandbox, the App's webhook receiver and the router the service would run."""

    sandbox: GitHubSandbox
    app_hook: WebhookReceiver
    router: Router
    repositories: ServedRepositories
    settings: Settings
    store: SqlEventStore
    handled: int = 0

    def deliver(self) -> None:
        """Hand every App delivery not handled yet to the router, as the service would,
        until the bot's own writes cause no more."""
        self.sandbox.wait_deliveries_sent()
        while self.handled < len(self.app_hook.deliveries):
            delivery = self.app_hook.deliveries[self.handled]
            self.handled += 1
            event = parse_github(delivery.event, delivery.payload)
            if event is not None:
                self.router.handle(event, delivery.headers.get("x-github-delivery", ""))
            self.sandbox.wait_deliveries_sent()

    def requests_to(self, repository: str) -> list[dict[str, Any]]:
        return [r for r in self.sandbox.requests() if f"/repos/{repository}/" in r["path"]]


@pytest.fixture
def organisation(
    tmp_path: Path, trained_registry: TrainedRegistry, rest_contract, webhook_contract
) -> Iterator[Callable[..., Organisation]]:  # type: ignore[no-untyped-def]
    started: list[Organisation] = []

    def start(change: SeedChange | None = None, *, automerge: bool = True) -> Organisation:
        folder = tmp_path / f"org-{len(started)}"
        app_hook, repo_hook = WebhookReceiver(), WebhookReceiver()
        content = write_content(folder / "content", repository_content(trained_registry, automerge))
        key_file = folder / "app.pem"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(app_key_pem())
        seed = default_seed(repo_hook.url, content, key_file)
        webapp = write_content(folder / "webapp", {"app.py": "print('hello')\n"})
        seed["repositories"].append(
            {
                "full_name": WEBAPP,
                "default_branch": "main",
                "content": str(webapp),
                "collaborators": {"bob": "write"},
            }
        )
        seed["apps"][0]["webhook"] = {
            "url": app_hook.url,
            "secret": WEBHOOK_SECRET,
            "events": list(EVENTS),
        }
        if change is not None:
            change(seed)
        checks = make_checks(rest_contract, webhook_contract)
        context = start_github_sandbox(folder, checks, seed=seed)
        sandbox = context.__enter__()
        settings = Settings(
            repo=folder,
            data_root=folder / "data",
            mlflow_tracking_uri=trained_registry.tracking_uri,
            github=GitHubSettings(
                base_url=sandbox.base_url,
                app_id=APP_ID,
                private_key=SecretStr(app_key_pem()),
                bot_login=BOT_LOGIN,
                seconds_between_writes=0,
                retry_backoff_seconds=0.01,
            ),
        )
        store = SqlEventStore(f"sqlite:///{folder / 'events.db'}")
        repositories = ServedRepositories(settings)
        router = Router(
            repositories=repositories, workflows=workflows_factory(settings, store.decisions)
        )
        org = Organisation(sandbox, app_hook, router, repositories, settings, store)
        org._context = context  # type: ignore[attr-defined]
        org._hooks = (app_hook, repo_hook)  # type: ignore[attr-defined]
        started.append(org)
        return org

    yield start
    for org in started:
        org.repositories.close()
        org.store.close()
        org._context.__exit__(None, None, None)  # type: ignore[attr-defined]
        for hook in org._hooks:  # type: ignore[attr-defined]
            hook.close()


def _better(registry: TrainedRegistry) -> str:
    return registry.version(Recipe.BETTER).version


def test_only_repositories_with_policies_are_served(
    organisation: Callable[..., Organisation],
) -> None:
    """The App is installed on the whole organisation; promobot serves its GitOps repository."""
    org = organisation()
    served = [services.repository for services in org.repositories.served()]
    assert served == [REPO_NAME]
    assert org.repositories.services(WEBAPP) is None


def test_a_command_in_another_repository_does_nothing_here(
    organisation: Callable[..., Organisation], trained_registry: TrainedRegistry
) -> None:
    """`/promobot merge` on acme/webapp#1 must not touch acme/models#1."""
    org = organisation()
    services = org.repositories.services(REPO_NAME)
    assert services is not None
    promotion = propose(services, None, MODEL, _better(trained_registry), "production", NOW)
    assert promotion.pull_request is not None and promotion.pull_request.number == 1
    webapp = org.sandbox.github("bob").get_repo(WEBAPP)
    webapp.create_git_ref("refs/heads/feature", webapp.get_branch("main").commit.sha)
    webapp.create_file("x.txt", "add", "x", branch="feature")
    pull = webapp.create_pull(title="Feature", body="", head="feature", base="main")
    assert pull.number == 1
    org.deliver()
    org.sandbox.clear_requests()

    pull.create_issue_comment("/promobot merge")
    org.deliver()

    assert org.requests_to(REPO_NAME) == []
    assert not org.sandbox.github("alice").get_repo(REPO_NAME).get_pull(1).merged


def test_a_forged_policy_success_on_a_pushed_head_does_not_merge(
    organisation: Callable[..., Organisation], trained_registry: TrainedRegistry
) -> None:
    """A writer pushes forged metrics and posts `promobot/policy` success: only the App's own
    check run counts, and it fails the forged head."""
    org = organisation()
    services = org.repositories.services(REPO_NAME)
    assert services is not None
    promotion = propose(services, None, MODEL, _better(trained_registry), "production", NOW)
    assert promotion.pull_request is not None
    org.deliver()
    bob = org.sandbox.github("bob").get_repo(REPO_NAME)
    path = f"model-manifests/production/{MODEL}.yaml"
    current = bob.get_contents(path, ref=promotion.pull_request.head_ref)
    forged = current.decoded_content.decode().replace("f1: 0.", "f1: 0.99")  # type: ignore[union-attr]
    commit = bob.update_file(  # type: ignore[union-attr]
        path,
        "Better numbers",
        forged,
        current.sha,
        branch=promotion.pull_request.head_ref,  # type: ignore[union-attr]
    )["commit"]
    bob.get_commit(commit.sha).create_status(
        "success", description="looks fine", context="promobot/policy"
    )
    pull = org.sandbox.github("carol").get_repo(REPO_NAME).get_pull(1)
    pull.create_review(commit=pull.head.repo.get_commit(commit.sha), event="APPROVE")

    org.deliver()

    pull = org.sandbox.github("alice").get_repo(REPO_NAME).get_pull(1)
    assert not pull.merged
    checks = services.forge.get_checks(commit.sha)
    assert checks.verdict() is False
    assert any(v.by == "bob" for v in checks.foreign_verdicts())
    status = [c.body for c in services.forge.list_comments(1) if "promobot:status" in c.body]
    assert status and "not promobot's own" in status[0] and "bob" in status[0]


def _without_members(seed: dict[str, Any]) -> None:
    seed["apps"][0]["permissions"] = {
        name: level for name, level in APP_PERMISSIONS.items() if name != "members"
    }


def test_doctor_names_the_missing_members_permission(
    organisation: Callable[..., Organisation], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = organisation(_without_members)
    github = org.settings.github
    assert github is not None
    monkeypatch.setenv("PROMOBOT_GITHUB__BASE_URL", github.base_url)
    monkeypatch.setenv("PROMOBOT_GITHUB__APP_ID", str(APP_ID))
    monkeypatch.setenv("PROMOBOT_GITHUB__PRIVATE_KEY", app_key_pem())
    monkeypatch.setenv("PROMOBOT_GITHUB__BOT_LOGIN", BOT_LOGIN)
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1, result.output
    assert "missing permission Organization members: read" in result.output
    assert f"{REPO_NAME}: served" in result.output


def _strict_up_to_date(seed: dict[str, Any]) -> None:
    seed["repositories"][0]["branch_protection"] = {
        "main": {
            "required_status_checks": {
                "strict": True,
                "checks": [{"context": "promobot/policy", "app_id": APP_ID}],
            },
            "required_pull_request_reviews": {"required_approving_review_count": 1},
        }
    }


def test_a_promotion_that_fell_behind_is_rebuilt_and_merges(
    organisation: Callable[..., Organisation], trained_registry: TrainedRegistry
) -> None:
    """With "require branches to be up to date", a change on main strands the promotion:
    the bot makes its one commit again on the new main, and it merges once approved."""
    org = organisation(_strict_up_to_date)
    services = org.repositories.services(REPO_NAME)
    assert services is not None
    promotion = propose(services, None, MODEL, _better(trained_registry), "production", NOW)
    assert promotion.pull_request is not None
    org.deliver()
    alice = org.sandbox.github("alice").get_repo(REPO_NAME)
    readme = alice.get_contents("README.md")
    alice.update_file("README.md", "Docs", "# models\n\nmore\n", readme.sha)  # type: ignore[union-attr]
    org.deliver()

    def approve() -> None:
        pull = org.sandbox.github("carol").get_repo(REPO_NAME).get_pull(1)
        pull.create_review(commit=pull.head.repo.get_commit(pull.head.sha), event="APPROVE")
        org.deliver()

    approve()
    rebuilt = alice.get_pull(1)
    assert not rebuilt.merged
    assert rebuilt.head.sha != promotion.pull_request.head_sha
    assert [p.sha for p in alice.get_commit(rebuilt.head.sha).parents] == [
        alice.get_branch("main").commit.sha
    ]
    approve()
    assert alice.get_pull(1).merged
