"""What a repository writer cannot make the bot do: loop on its own writes, or merge extra files.

The bot runs as `promobot serve` does (the real handler, the real event store, worker
threads), against the sandbox GitHub over HTTP; the sandbox's webhook delivers to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import build_handler
from bot.forge.settings import GitHubSettings
from bot.server.app import create_app
from bot.server.handlers import ServiceContext
from bot.server.loops import LoopGuard
from bot.server.metrics import ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.settings import Settings
from bot.store.sql import SqlEventStore
from bot.webhooks.events import (
    CheckRunCompleted,
    CommentCreated,
    PullRequestChanged,
    ReviewSubmitted,
    StatusChanged,
    is_own_write,
)
from tests.conftest import PROJECT_ROOT
from tests.server.support import GITHUB_SECRET, serving
from tests.support.github_sandbox import (
    APP_ID,
    DEFAULT_CONTENT,
    INSTALLATION_ID,
    REPO_NAME,
    GitHubSandbox,
    app_key_pem,
    make_checks,
    start_github_sandbox,
)
from tests.support.http import LOCAL

BOT = "promobot[bot]"
BRANCH = "promobot/production/churn-classifier"
MANIFEST = "model-manifests/production/churn-classifier.yaml"


@dataclass
class Bot:
    """The running service and what it shares with the test."""

    url: str
    store: SqlEventStore
    metrics: ServiceMetrics


@pytest.fixture
def sandbox(tmp_path: Path, rest_contract, webhook_contract) -> Iterator[GitHubSandbox]:  # type: ignore[no-untyped-def]
    content = {
        **DEFAULT_CONTENT,
        "policies/defaults.yaml": (PROJECT_ROOT / "policies" / "defaults.yaml").read_text(),
    }
    checks = make_checks(rest_contract, webhook_contract)
    with start_github_sandbox(tmp_path, checks, content=content) as box:
        yield box


@pytest.fixture
def bot(tmp_path: Path, sandbox: GitHubSandbox) -> Iterator[Bot]:
    """`promobot serve` with the workflows, subscribed to the repository's events."""
    service = ServiceSettings(
        state_dir=tmp_path / "state",
        github_webhook_secret=SecretStr(GITHUB_SECRET),
        workers=2,
        tick_seconds=0,
        poll_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
    )
    settings = Settings(
        repo=tmp_path,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        github=GitHubSettings(
            base_url=sandbox.base_url,
            repository=REPO_NAME,
            app_id=APP_ID,
            private_key=SecretStr(app_key_pem()),
            installation_id=INSTALLATION_ID,
            bot_login=BOT,
            seconds_between_writes=0,
        ),
        service=service,
    )
    store = SqlEventStore(service.database_url)
    metrics = ServiceMetrics()
    handler = build_handler(ServiceContext(settings=settings, store=store, metrics=metrics))
    app = create_app(service, handler, store=store, metrics=metrics)
    with serving(app) as url:
        hook = {"url": f"{url}/webhooks/github", "secret": GITHUB_SECRET, "content_type": "json"}
        admin = sandbox.http("alice")
        admin.post(
            f"/repos/{REPO_NAME}/hooks", json={"config": hook, "events": ["*"]}
        ).raise_for_status()
        yield Bot(url, store, metrics)
    store.close()


def _verdicts(sandbox: GitHubSandbox, sha: str) -> list[str]:
    """Every `promobot/policy` status and check run on `sha`, as their states."""
    http = sandbox.http("alice")
    statuses = http.get(f"/repos/{REPO_NAME}/commits/{sha}/statuses").json()
    runs = http.get(
        f"/repos/{REPO_NAME}/commits/{sha}/check-runs", params={"filter": "all"}
    ).json()["check_runs"]
    return [s["state"] for s in statuses if s["context"] == "promobot/policy"] + [
        r["conclusion"] for r in runs if r["name"] == "promobot/policy"
    ]


def _settle(sandbox: GitHubSandbox, bot: Bot, seconds: float = 3.0, limit: float = 60.0) -> None:
    """Wait until every event is handled and nothing has moved for `seconds`."""
    deadline, quiet_since, last = time.monotonic() + limit, time.monotonic(), None
    while time.monotonic() < deadline:
        sandbox.wait_deliveries_sent()
        depth = bot.store.queue_depth()
        seen = (len(sandbox.requests()), depth)
        if seen != last or depth:
            last, quiet_since = seen, time.monotonic()
        elif time.monotonic() - quiet_since >= seconds:
            return
        time.sleep(0.2)
    raise AssertionError(f"the bot was still busy after {limit} s")


def test_an_unparsable_manifest_gets_exactly_one_failing_status(
    sandbox: GitHubSandbox, bot: Bot
) -> None:
    """The bot's failing verdict causes a `status` (or `check_run`) event; reacting to it
    would set the verdict again, forever (2,192 statuses on one commit in 4 minutes before
    this was fixed)."""
    writer = sandbox.github("bob").get_repo(REPO_NAME)
    main = writer.get_branch("main").commit.sha
    writer.create_git_ref(f"refs/heads/{BRANCH}", main)
    current = writer.get_contents(MANIFEST, ref=BRANCH)
    writer.update_file(MANIFEST, "Break it", "model: [unclosed\n", current.sha, branch=BRANCH)  # type: ignore[union-attr]
    pull = writer.create_pull(title="Promote", body="", head=BRANCH, base="main")

    _settle(sandbox, bot)

    assert _verdicts(sandbox, pull.head.sha) == ["failure"]
    scraped = LOCAL.get(f"{bot.url}/metrics").text
    assert "promobot_own_writes_ignored_total" in scraped


@pytest.mark.parametrize(
    ("event", "own"),
    [
        (
            StatusChanged(repo=REPO_NAME, sender=BOT, sha="a" * 40, context="c", state="failure"),
            True,
        ),
        (
            StatusChanged(
                repo=REPO_NAME, sender="ci-bot", sha="a" * 40, context="c", state="failure"
            ),
            False,
        ),
        (
            CheckRunCompleted(
                repo=REPO_NAME, sender=BOT, head_sha="a" * 40, name="x", conclusion=None
            ),
            True,
        ),
        (
            CommentCreated(
                repo=REPO_NAME,
                sender=BOT,
                number=1,
                user=BOT,
                body="x",
                comment_id=1,
                is_pull_request=True,
            ),
            True,
        ),
        (
            PullRequestChanged(
                repo=REPO_NAME,
                sender=BOT,
                number=1,
                action="labeled",
                head_sha="a",
                head_ref="b",
                base_ref="main",
            ),
            True,
        ),
        (
            PullRequestChanged(
                repo=REPO_NAME,
                sender=BOT,
                number=1,
                action="synchronize",
                head_sha="a",
                head_ref="b",
                base_ref="main",
            ),
            False,
        ),
        (
            ReviewSubmitted(
                repo=REPO_NAME,
                sender=BOT,
                number=1,
                action="submitted",
                state="approved",
                user=BOT,
                commit_id="a",
                review_id=1,
                head_sha="a",
            ),
            False,
        ),
    ],
)
def test_own_writes_are_recognised_by_their_sender(event: object, own: bool) -> None:
    """Statuses, check runs, comments and labels the bot wrote; its pushes still need the gate."""
    assert is_own_write(event, BOT) is own  # type: ignore[arg-type]


def test_a_burst_for_one_pull_request_is_a_loop() -> None:
    now = [0.0]
    guard = LoopGuard(limit=3, window_seconds=60, clock=lambda: now[0])
    counts = [guard.record("pr:acme/models#1") for _ in range(4)]
    assert counts == [1, 2, 3, 4]
    assert not guard.is_loop(3) and guard.is_loop(4)
    assert guard.record("pr:acme/models#2") == 1
    now[0] = 61.0
    assert guard.record("pr:acme/models#1") == 1
