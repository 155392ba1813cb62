"""The GitHub App serving an organisation, against the strict sandbox over HTTP: what it
does with repositories it does not serve, models two repositories claim, the tick's
memory of settled pull requests, drafts GitHub refuses, and where a failing verdict points.

The App is installed on the whole organisation `acme`: `acme/models` (the GitOps
repository) and `acme/webapp` (no `policies/`), with `acme/forecasts` (a second GitOps
repository) where a test needs it. Some tests run the whole service (`create_app` with
`build_handler`, uvicorn on a loopback port) and let the sandbox deliver the App's webhook
to it; the others hand each delivery, parsed as the service parses it, to the router.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.app import ServedRepositories, build_handler, workflows_factory
from bot.cli.main import app as cli
from bot.doctor import Readiness
from bot.domain.layout import manifest_path
from bot.domain.pull_request_plan import LABEL_PROMOTION, LABEL_REJECTED
from bot.forge.permissions import EVENTS
from bot.forge.settings import GitHubSettings
from bot.recipe import Recipe
from bot.server.app import create_app
from bot.server.handlers import ServiceContext
from bot.server.metrics import ServiceMetrics
from bot.settings import Settings
from bot.store.base import DecisionLog
from bot.store.sql import SqlEventStore
from bot.webhooks.events import Tick
from bot.webhooks.github import parse_github
from bot.workflows.propose import ProposeOutcome, propose
from bot.workflows.routing import Router
from bot.workflows.services import Services
from tests.server.support import make_settings, mlflow_delivery, wait_until
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import (
    APP_ID,
    REPO_NAME,
    WEBHOOK_SECRET,
    Delivery,
    GitHubSandbox,
    WebhookReceiver,
    app_key_pem,
    default_seed,
    make_checks,
    start_github_sandbox,
    write_content,
)
from tests.support.http import LOCAL
from tests.support.mlflow_models import MODEL, TrainedRegistry
from tests.workflows.conftest import BOT_LOGIN, repository_content

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
WEBAPP = "acme/webapp"
FORECASTS = "acme/forecasts"
ENV = "production"
MANIFEST = manifest_path(MODEL, ENV)
REST_ROOT = "/api/v3"
SeedChange = Callable[[dict[str, Any]], None]


@dataclass
class Organisation:
    """A sandbox with the App installed on `acme`, the App's settings, and where its
    webhook goes: a receiver (`app_hook`) or the service listening on `listener`."""

    sandbox: GitHubSandbox
    settings: Settings
    folder: Path
    hook_url: str
    app_hook: WebhookReceiver | None
    listener: socket.socket | None
    closers: list[Callable[[], None]] = field(default_factory=list)
    handled: int = 0
    decisions: DecisionLog | None = None

    def requests(self) -> list[dict[str, Any]]:
        """The sandbox's request log, paths relative to the REST root."""
        return [{**r, "path": r["path"].removeprefix(REST_ROOT)} for r in self.sandbox.requests()]

    def requests_to(self, repository: str) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["path"].startswith(f"/repos/{repository}/")]

    def router(self, clock: Callable[[], dt.datetime] = lambda: NOW) -> Router:
        """The router `promobot serve` runs, with a store of its own."""
        store = SqlEventStore(f"sqlite:///{self.folder / 'router.db'}")
        repositories = ServedRepositories(self.settings)
        self.closers += [repositories.close, store.close]
        self.decisions = store.decisions
        return Router(
            repositories=repositories,
            workflows=workflows_factory(self.settings, store.decisions, clock=clock),
        )

    def deliver(self, router: Router, only: Callable[[Delivery], bool] | None = None) -> None:
        """Hand the App's deliveries not handled yet (those `only` keeps) to `router`, as
        the service would, until the bot's own writes cause no more."""
        assert self.app_hook is not None
        self.sandbox.wait_deliveries_sent()
        while self.handled < len(self.app_hook.deliveries):
            delivery = self.app_hook.deliveries[self.handled]
            self.handled += 1
            if only is not None and not only(delivery):
                continue
            event = parse_github(delivery.event, delivery.payload)
            if event is not None:
                router.handle(event, delivery.headers.get("x-github-delivery", ""))
            self.sandbox.wait_deliveries_sent()

    def services_of(self, router: Router, repository: str = REPO_NAME) -> Services:
        services = router.repositories.services(repository)
        assert services is not None
        return services


@pytest.fixture
def organisation(
    tmp_path: Path,
    trained_registry: TrainedRegistry,
    rest_contract: RestContract,
    webhook_contract: WebhookContract,
) -> Iterator[Callable[..., Organisation]]:
    """`start(change=None, *, automerge=True, forecasts=False, service=False)`: the App on
    `acme`; `forecasts` adds a second GitOps repository with the same model, `service`
    sends the App's webhook to a port the test serves (`Organisation.listener`)."""
    started: list[tuple[Organisation, Any, list[WebhookReceiver]]] = []

    def start(
        change: SeedChange | None = None,
        *,
        automerge: bool = True,
        forecasts: bool = False,
        service: bool = False,
    ) -> Organisation:
        folder = tmp_path / f"org-{len(started)}"
        repo_hook = WebhookReceiver()
        files = repository_content(trained_registry, automerge)
        content = write_content(folder / "content", files)
        key_file = folder / "app.pem"
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
        if forecasts:
            other = write_content(folder / "forecasts", files)
            seed["repositories"].append(
                {"full_name": FORECASTS, "default_branch": "main", "content": str(other)}
            )
        app_hook, listener = None, None
        if service:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            hook_url = f"http://127.0.0.1:{listener.getsockname()[1]}/webhooks/github"
        else:
            app_hook = WebhookReceiver()
            hook_url = app_hook.url
        seed["apps"][0]["webhook"] = {
            "url": hook_url,
            "secret": WEBHOOK_SECRET,
            "events": list(EVENTS),
        }
        if change is not None:
            change(seed)
        context = start_github_sandbox(
            folder, make_checks(rest_contract, webhook_contract), seed=seed
        )
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
            service=make_settings(
                f"sqlite:///{folder / 'events.db'}",
                folder,
                github_webhook_secret=SecretStr(WEBHOOK_SECRET),
            ),
        )
        org = Organisation(sandbox, settings, folder, hook_url, app_hook, listener)
        hooks = [repo_hook] if app_hook is None else [repo_hook, app_hook]
        started.append((org, context, hooks))
        return org

    yield start
    for org, context, hooks in started:
        for close in reversed(org.closers):
            close()
        context.__exit__(None, None, None)
        for hook in hooks:
            hook.close()
        if org.listener is not None:
            org.listener.close()


@dataclass
class Service:
    """The service `promobot serve` runs, on the organisation's listener."""

    client: httpx.Client
    metrics: ServiceMetrics
    store: SqlEventStore

    def metric_lines(self) -> list[str]:
        return self.client.get("/metrics").text.splitlines()

    def idle(self) -> bool:
        return self.store.queue_depth() == 0


@contextmanager
def running_service(org: Organisation, readiness: bool = False) -> Iterator[Service]:
    """`create_app` with `build_handler` (and the doctor's `Readiness`), as `promobot serve`
    wires them, served by uvicorn on the port the App's webhook delivers to."""
    assert org.listener is not None
    store = SqlEventStore(org.settings.service.database_url)
    metrics = ServiceMetrics()
    handler = build_handler(ServiceContext(settings=org.settings, store=store, metrics=metrics))
    github = org.settings.github
    assert github is not None
    app: FastAPI = create_app(
        org.settings.service,
        handler,
        store=store,
        metrics=metrics,
        readiness=Readiness(github).problems if readiness else None,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [org.listener]}, daemon=True)
    thread.start()
    url = "http://{}:{}".format(*org.listener.getsockname())
    try:
        wait_until(lambda: server.started, what="uvicorn to start")
        with httpx.Client(base_url=url, timeout=30) as client:
            yield Service(client, metrics, store)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()


def _version(registry: TrainedRegistry, recipe: Recipe) -> str:
    return registry.version(recipe).version


def _app_deliveries(org: Organisation) -> list[dict[str, Any]]:
    """Every delivery of the App's webhook, with the answer the receiver gave."""
    deliveries = LOCAL.get(f"{org.sandbox.url}/_sandbox/deliveries", params={"wait": 15}).json()
    return [d for d in deliveries if d["url"] == org.hook_url]


# --- 1. repositories the App is installed on but promobot does not serve ------------------

KINDS = {
    "push": "pushed",
    "pull_request": "pull_request_changed",
    "issue_comment": "comment_created",
}
"""The App's webhook events bob's work on acme/webapp causes, and their domain events."""


def test_events_from_an_unserved_repository_are_acknowledged_ignored_and_counted(
    organisation: Callable[..., Organisation],
) -> None:
    """A pull request and a command on acme/webapp (no policies/) reach the service through
    the App's webhook: each delivery is answered 2xx, the router drops the event without a
    write anywhere and without touching acme/models, and /metrics counts it by kind."""
    org = organisation(service=True)
    with running_service(org) as service:
        webapp = org.sandbox.github("bob").get_repo(WEBAPP)
        webapp.create_git_ref("refs/heads/feature", webapp.get_branch("main").commit.sha)
        webapp.create_file("x.txt", "add", "x", branch="feature")
        pull = webapp.create_pull(title="Feature", body="", head="feature", base="main")
        pull.create_issue_comment("/promobot merge")
        org.sandbox.wait_deliveries_sent()
        counted = 'promobot_foreign_events_ignored_total{kind="comment_created"} 1.0'
        wait_until(lambda: counted in service.metric_lines(), what="the comment to be counted")
        wait_until(service.idle, what="the queue to drain")
        lines = service.metric_lines()

    deliveries = _app_deliveries(org)
    assert {d["event"] for d in deliveries} == set(KINDS), deliveries
    assert all(d["status_code"] == 202 for d in deliveries), deliveries
    for event, kind in KINDS.items():
        count = sum(d["event"] == event for d in deliveries)
        assert f'promobot_foreign_events_ignored_total{{kind="{kind}"}} {count:.1f}' in lines
    assert not [line for line in lines if 'outcome="parked"' in line and line.endswith(" 1.0")]
    assert org.requests_to(REPO_NAME) == []
    bot_calls = [
        (r["method"], r["path"])
        for r in org.requests_to(WEBAPP)
        if (r.get("identity") or {}).get("kind") == "installation"
    ]
    assert bot_calls, "the bot never looked at acme/webapp for policies/"
    assert {method for method, _ in bot_calls} == {"GET"}, bot_calls
    assert not org.sandbox.github("alice").get_repo(WEBAPP).get_pull(1).merged


# --- 2. a model two repositories claim ---------------------------------------------------


def _set_doctor_environment(monkeypatch: pytest.MonkeyPatch, github: GitHubSettings) -> None:
    monkeypatch.setenv("PROMOBOT_GITHUB__BASE_URL", github.base_url)
    monkeypatch.setenv("PROMOBOT_GITHUB__APP_ID", str(APP_ID))
    monkeypatch.setenv("PROMOBOT_GITHUB__PRIVATE_KEY", app_key_pem())
    monkeypatch.setenv("PROMOBOT_GITHUB__BOT_LOGIN", BOT_LOGIN)


def test_a_model_two_repositories_claim_is_shown_by_doctor_and_readyz_and_proposed_nowhere(
    organisation: Callable[..., Organisation],
    trained_registry: TrainedRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """acme/models and acme/forecasts both hold churn-classifier and a policy for churn-*:
    `promobot doctor` fails naming both, /readyz answers 503 with the same finding, and a
    registry event for a better version opens nothing in either repository (counted)."""
    org = organisation(forecasts=True, service=True)
    github = org.settings.github
    assert github is not None
    _set_doctor_environment(monkeypatch, github)
    claim = re.compile(
        r"claims: acme/forecasts \(policies/churn-team\.yaml\) and acme/models "
        r"\(policies/churn-team\.yaml\) both claim models churn-\*"
    )

    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1, result.output
    assert [line for line in result.output.splitlines() if claim.search(line)], result.output
    assert re.search(r"^error\s+claims:", result.output, re.MULTILINE)

    with running_service(org, readiness=True) as service:
        ready = service.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "misconfigured"
        assert [p for p in ready.json()["problems"] if claim.search(p)], ready.json()
        org.sandbox.clear_requests()

        better = _version(trained_registry, Recipe.BETTER)
        body, headers = mlflow_delivery(
            {
                "entity": "model_version",
                "action": "created",
                "timestamp": "2026-11-30T12:00:00+00:00",
                "data": {"name": MODEL, "version": better, "source": "", "run_id": "", "tags": {}},
            }
        )
        accepted = service.client.post("/webhooks/mlflow", content=body, headers=headers)
        assert 200 <= accepted.status_code < 300, accepted.text
        wait_until(
            lambda: "promobot_claim_conflicts_total 1.0" in service.metric_lines(),
            what="the conflict to be counted",
        )
        wait_until(service.idle, what="the queue to drain")

    alice = org.sandbox.github("alice")
    for repository in (REPO_NAME, FORECASTS):
        assert alice.get_repo(repository).get_pulls(state="all").totalCount == 0
        writes = [r for r in org.requests_to(repository) if r["method"] != "GET"]
        assert writes == [], writes


# --- 4. the tick gates only what may have changed ------------------------------------------

GATE_READS = re.compile(r"/pulls/\d+/reviews|/check-runs|/issues/\d+/comments")


def _gate_requests(org: Organisation) -> list[tuple[str, str]]:
    """The bot's requests that only a gate makes: reviews, checks, the status comment, and
    any write."""
    return [
        (r["method"], r["path"])
        for r in org.requests_to(REPO_NAME)
        if GATE_READS.search(r["path"]) or r["method"] != "GET"
    ]


def test_the_tick_gates_again_only_what_changed(
    organisation: Callable[..., Organisation], trained_registry: TrainedRegistry
) -> None:
    """A tick gates the open promotion; the next one, with nothing changed, makes none of
    the gate's reads or writes; a review (its event) gates at once; a push to the branch
    makes the next tick gate again, and the one after leaves it alone."""
    org = organisation(automerge=False)
    clock = [NOW]
    router = org.router(lambda: clock[0])
    services = org.services_of(router)
    # v3 was decided before; v2 waits for approval: the tick has nothing to propose.
    worse = _version(trained_registry, Recipe.WORSE)
    assert org.decisions is not None
    org.decisions.record("mlflow", MODEL, worse, ENV, "rejected", "decided before")
    better = _version(trained_registry, Recipe.BETTER)
    promotion = propose(services, org.decisions, MODEL, better, ENV, NOW)
    assert promotion.pull_request is not None
    number, branch = promotion.pull_request.number, promotion.pull_request.head_ref

    def tick() -> list[tuple[str, str]]:
        org.sandbox.wait_deliveries_sent()
        org.sandbox.clear_requests()
        clock[0] += dt.timedelta(minutes=1)
        router.handle(Tick(now=clock[0]))
        assert org.requests_to(REPO_NAME), "the tick did not look at the repository"
        return _gate_requests(org)

    assert ("GET", f"/repos/{REPO_NAME}/pulls/{number}/reviews") in tick()
    assert tick() == []

    pull = org.sandbox.github("carol").get_repo(REPO_NAME).get_pull(number)
    pull.create_review(commit=pull.head.repo.get_commit(pull.head.sha), event="APPROVE")
    org.sandbox.wait_deliveries_sent()
    org.sandbox.clear_requests()
    org.deliver(router, only=lambda d: d.event == "pull_request_review")
    assert ("GET", f"/repos/{REPO_NAME}/pulls/{number}/reviews") in _gate_requests(org)

    bob = org.sandbox.github("bob").get_repo(REPO_NAME)
    bob.create_file("notes.txt", "A note", "pushed by a person\n", branch=branch)
    assert ("GET", f"/repos/{REPO_NAME}/pulls/{number}/reviews") in tick()
    assert tick() == []


# --- 5. drafts GitHub refuses ---------------------------------------------------------------


def _private(seed: dict[str, Any]) -> None:
    """acme/models private, and acme on GitHub Free: no drafts there."""
    seed["repositories"][0]["private"] = True


@pytest.mark.parametrize("before", [None, Recipe.BETTER], ids=["new", "over-a-promotion"])
def test_a_rejected_challenger_where_drafts_are_refused_is_a_plain_labelled_pull_request(
    organisation: Callable[..., Organisation],
    trained_registry: TrainedRegistry,
    before: Recipe | None,
) -> None:
    """In a private repository of a Free organisation GitHub refuses drafts (422 on create,
    an error from the GraphQL mutation on update); the rejected challenger still gets its
    pull request: open, not a draft, labelled rejected, failing its verdict, and its body
    says why it is not a draft."""
    org = organisation(_private)
    router = org.router()
    services = org.services_of(router)
    if before is not None:
        opened = propose(services, None, MODEL, _version(trained_registry, before), ENV, NOW)
        assert opened.outcome is ProposeOutcome.OPENED
    org.sandbox.clear_requests()

    result = propose(services, None, MODEL, _version(trained_registry, Recipe.WORSE), ENV, NOW)

    assert result.outcome is ProposeOutcome.REJECTED
    assert result.pull_request is not None
    refusals = [
        r
        for r in org.requests()
        if (r["method"], r["path"], r["status"]) == ("POST", f"/repos/{REPO_NAME}/pulls", 422)
        or (r["method"] == "POST" and r["path"].endswith("/graphql"))
    ]
    assert refusals, "GitHub was never asked for a draft"
    pull = org.sandbox.github("alice").get_repo(REPO_NAME).get_pull(result.pull_request.number)
    assert pull.state == "open" and not pull.draft
    assert {label.name for label in pull.labels} == {LABEL_PROMOTION, LABEL_REJECTED}
    assert pull.title.startswith("[rejected] ")
    body = " ".join((pull.body or "").split())
    assert "GitHub refuses draft pull requests in this repository" in body, pull.body
    assert "labelled `rejected`" in body
    assert services.forge.get_checks(pull.head.sha).verdict() is False


# --- 7. a failing verdict points at the manifest's lines -----------------------------------


def _forge_metric(text: str) -> tuple[str, int, str]:
    """The manifest with f1 raised: the registry disagrees on that line."""
    lines = text.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("f1:"))
    lines[index] = re.sub(r"f1: [0-9.]+", "f1: 0.999", lines[index])
    return "".join(lines), index + 1, "metrics.f1"


def _break_schema(text: str) -> tuple[str, int, str]:
    """The manifest with an environment that is not a string."""
    lines = text.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("environment:"))
    lines[index] = "environment: [production, staging]\n"
    return "".join(lines), index + 1, "environment"


@pytest.mark.parametrize("spoil", [_forge_metric, _break_schema], ids=["metric", "invalid"])
def test_a_failing_verdict_is_annotated_at_the_manifests_line(
    organisation: Callable[..., Organisation],
    trained_registry: TrainedRegistry,
    spoil: Callable[[str], tuple[str, int, str]],
) -> None:
    """A writer pushes a manifest the registry contradicts, or one that is not a manifest,
    to the promotion branch: the App's promobot/policy check run on the new head fails,
    with an annotation at the manifest's offending line (read through PyGithub)."""
    org = organisation()
    router = org.router()
    services = org.services_of(router)
    promotion = propose(services, None, MODEL, _version(trained_registry, Recipe.BETTER), ENV, NOW)
    assert promotion.pull_request is not None
    org.deliver(router)
    bob = org.sandbox.github("bob").get_repo(REPO_NAME)
    current = bob.get_contents(MANIFEST, ref=promotion.pull_request.head_ref)
    text, line, title = spoil(current.decoded_content.decode())
    commit = bob.update_file(
        MANIFEST, "Tweak", text, current.sha, branch=promotion.pull_request.head_ref
    )["commit"]

    org.deliver(router)

    alice = org.sandbox.github("alice").get_repo(REPO_NAME)
    (run,) = alice.get_commit(commit.sha).get_check_runs(check_name="promobot/policy")
    assert run.app.id == APP_ID
    assert run.conclusion == "failure"
    assert run.output.annotations_count >= 1
    annotations = list(run.get_annotations())
    assert annotations, run.output.summary
    at_line = [a for a in annotations if (a.path, a.start_line) == (MANIFEST, line)]
    assert at_line, [(a.path, a.start_line, a.title, a.message) for a in annotations]
    assert at_line[0].annotation_level == "failure"
    assert at_line[0].title is not None and title in at_line[0].title
    assert not alice.get_pull(promotion.pull_request.number).merged
