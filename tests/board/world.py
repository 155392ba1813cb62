"""A world for the board: the sandbox GitHub holding manifests, policies and decision records
(with curves), a real scoring server serving some of it, and `promobot serve`'s app with the
board, under uvicorn in this process.

    churn-classifier  staging: boosted (serves)   production: logistic (serves), and an open
                      promotion to boosted whose record holds ROC and calibration curves
    fraud-detector    production: main says logistic, the scoring server serves boosted
                      (drift); a refused version waits in a draft; per-class curves
    demand-forecast   production: nothing serves (an apply that never ran); residuals
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from pydantic import SecretStr

from bot.board.settings import BoardSettings
from bot.board.wiring import ServedBoard, serve_board
from bot.domain.comparison import Comparison, Provenance, Task
from bot.domain.record import dump_record, make_record
from bot.domain.resolution import resolve_policy
from bot.domain.verdict import decide
from bot.evaluation.compare import compare_metrics
from bot.evaluation.curves import evaluation_curves
from bot.evaluation.predictions import Predictions
from bot.forge.base import CommitState
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from bot.formats.loading import load_manifest_text, load_policy_texts
from bot.server.app import create_app
from bot.server.settings import ServiceSettings
from bot.serving.runner import RunningServer, bind, url_of
from bot.settings import Settings
from bot.store.base import StoredEvent
from bot.targets.local import LocalTarget
from tests.cd.support import manifest_text
from tests.conftest import PROJECT_ROOT
from tests.support.github_sandbox import APP_ID, INSTALLATION_ID, REPO_NAME, GitHubSandbox
from tests.support.serving_models import Registry

BOT_LOGIN = "promobot[bot]"
DECIDED = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
POLICY = """apiVersion: promobot/v1
kind: PromotionPolicy
name: churn-team
applies_to: {models: ["churn-*"], environments: [staging, production]}
compare:
  primary: {metric: f1, direction: maximize, min_absolute_change: 0.005, significance: null}
approval: {required_approvals: 1, teams: [ml-reviewers], automerge: {enabled: false}}
on_rejected: draft
stages:
  - {environment: staging}
  - {environment: production, soak_minutes: 60}
"""
OTHERS = """apiVersion: promobot/v1
kind: PromotionPolicy
name: others
applies_to: {models: ["fraud-*", "demand-*"], environments: ["*"]}
compare:
  primary: {metric: f1, direction: maximize, min_absolute_change: 0.01, significance: null}
approval: {required_approvals: 1, teams: [ml-reviewers]}
on_rejected: draft
"""


def _binary_predictions(seed: int, strength: float) -> tuple[np.ndarray, Predictions]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * strength + rng.normal(0.5 - strength / 2, 0.2, 400), 0, 1)
    return labels, Predictions(labels=(scores > 0.5).astype(int), scores=scores)


def binary_curves() -> Any:
    labels, champion = _binary_predictions(1, 0.3)
    _, challenger = _binary_predictions(1, 0.5)
    return evaluation_curves(Task.BINARY, labels, challenger, champion)


def multiclass_curves() -> Any:
    rng = np.random.default_rng(2)
    labels = rng.choice(["legit", "fraud", "review"], 300, p=[0.6, 0.25, 0.15])
    guess = [np.where(rng.random(300) < p, labels, "legit") for p in (0.6, 0.8)]
    return evaluation_curves(
        Task.MULTICLASS, labels, Predictions(labels=guess[1]), Predictions(labels=guess[0])
    )


def regression_curves() -> Any:
    rng = np.random.default_rng(3)
    truth = rng.normal(100, 20, 500)
    return evaluation_curves(
        Task.REGRESSION,
        truth,
        Predictions(labels=truth + rng.normal(0, 4, 500)),
        Predictions(labels=truth + rng.normal(2, 8, 500)),
    )


def record_text(
    model: str,
    environment: str,
    version: str,
    champion: str | None,
    metrics: tuple[dict[str, float] | None, dict[str, float]],
    task: Task,
    curves: Any,
    data_root: Path,
    decided_at: dt.datetime = DECIDED,
    policy_texts: dict[str, str] | None = None,
) -> str:
    """A decision record as propose writes it, with curves, under this world's policies."""
    policies = load_policy_texts(
        policy_texts or {"policies/churn.yaml": POLICY, "policies/others.yaml": OTHERS}
    )
    policy = resolve_policy(policies, model, environment)
    comparison = Comparison(
        task=task,
        n=400,
        metrics=compare_metrics(*metrics),
        provenance=Provenance(
            data_path=str(data_root / "eval" / f"{model}.parquet"),
            challenger_uri=f"models:/churn/{version}",
            code_version="test",
            command=f"promobot evaluate --data {data_root}/eval/{model}.parquet",
        ),
        curves=curves,
    )
    return dump_record(
        make_record(
            model=model,
            environment=environment,
            version=version,
            champion_version=champion,
            comparison=comparison,
            policy=policy,
            verdict=decide(comparison, policy),
            decided_at=decided_at,
            promobot_version="test",
        )
    )


def content(versions: Registry, data_root: Path) -> dict[str, str]:
    """The repository's first commit."""
    logistic, boosted = versions.version("logistic"), versions.version("boosted")
    return {
        "README.md": "# models\n",
        "policies/defaults.yaml": (PROJECT_ROOT / "policies" / "defaults.yaml").read_text(),
        "policies/churn.yaml": POLICY,
        "policies/others.yaml": OTHERS,
        "model-manifests/staging/churn-classifier.yaml": manifest_text(
            "churn-classifier", boosted, "staging", uri=f"models:/churn/{boosted}", endpoint="churn"
        ),
        "model-manifests/production/churn-classifier.yaml": manifest_text(
            "churn-classifier",
            logistic,
            uri=f"models:/churn/{logistic}",
            endpoint="churn",
            metrics={"f1": 0.80},
        ),
        "model-manifests/production/fraud-detector.yaml": manifest_text(
            "fraud-detector", logistic, uri=f"models:/churn/{logistic}", metrics={"f1": 0.70}
        ),
        "model-manifests/production/fraud-detector.decision.json": record_text(
            "fraud-detector",
            "production",
            logistic,
            None,
            (None, {"f1": 0.70}),
            Task.MULTICLASS,
            multiclass_curves(),
            data_root,
        ),
        "model-manifests/production/demand-forecast.yaml": manifest_text(
            "demand-forecast", "4", uri=f"models:/churn/{logistic}", metrics={"f1": 0.5}
        ),
        "model-manifests/production/demand-forecast.decision.json": record_text(
            "demand-forecast",
            "production",
            "4",
            "3",
            ({"f1": 0.45}, {"f1": 0.5}),
            Task.REGRESSION,
            regression_curves(),
            data_root,
        ),
    }


@dataclass
class BoardWorld:
    """What a board test touches."""

    sandbox: GitHubSandbox
    versions: Registry
    scoring: RunningServer
    forge: GitHubForge
    settings: Settings
    url: str
    served: ServedBoard
    promotion: int
    refused: int


def github_settings(sandbox: GitHubSandbox) -> GitHubSettings:
    """The bot's App installation on the sandbox."""
    return GitHubSettings(
        base_url=sandbox.base_url,
        repository=REPO_NAME,
        app_id=APP_ID,
        private_key=SecretStr(sandbox.app_private_key),
        installation_id=INSTALLATION_ID,
        bot_login=BOT_LOGIN,
        seconds_between_writes=0,
    )


def apply_serving(world_versions: Registry, scoring: RunningServer, tracking_uri: str) -> None:
    """What the scoring server serves: churn in both stages, fraud-detector's other version."""
    target = LocalTarget(scoring.url, tracking_uri)
    logistic, boosted = world_versions.version("logistic"), world_versions.version("boosted")
    try:
        for model, environment, version, endpoint in (
            ("churn-classifier", "staging", boosted, "churn"),
            ("churn-classifier", "production", logistic, "churn"),
            ("fraud-detector", "production", boosted, "fraud-detector"),
        ):
            text = manifest_text(
                model, version, environment, uri=f"models:/churn/{version}", endpoint=endpoint
            )
            path = f"model-manifests/{environment}/{model}.yaml"
            target.apply(load_manifest_text(text, path), lambda _line: None)
    finally:
        target.close()


def open_promotions(forge: GitHubForge, versions: Registry, data_root: Path) -> tuple[int, int]:
    """churn-classifier's promotion to boosted (promote), fraud-detector's refused draft."""
    logistic, boosted = versions.version("logistic"), versions.version("boosted")
    later = DECIDED + dt.timedelta(days=3)
    churn = forge.open_or_update_promotion(
        model="churn-classifier",
        environment="production",
        manifest_path="model-manifests/production/churn-classifier.yaml",
        manifest_text=manifest_text(
            "churn-classifier",
            boosted,
            uri=f"models:/churn/{boosted}",
            endpoint="churn",
            metrics={"f1": 0.86},
            champion=logistic,
        ),
        title=f"Promote churn-classifier v{boosted} to production",
        body="the report",
        extra_files={
            "model-manifests/production/churn-classifier.decision.json": record_text(
                "churn-classifier",
                "production",
                boosted,
                logistic,
                ({"f1": 0.80}, {"f1": 0.86}),
                Task.BINARY,
                binary_curves(),
                data_root,
                later,
            )
        },
    )
    forge.set_verdict(churn.commit_sha, CommitState.SUCCESS, title="promote", summary="promote")
    fraud = forge.open_or_update_promotion(
        model="fraud-detector",
        environment="production",
        manifest_path="model-manifests/production/fraud-detector.yaml",
        manifest_text=manifest_text(
            "fraud-detector", "9", uri="models:/churn/9", metrics={"f1": 0.60}, champion=logistic
        ),
        title="[rejected] Promote fraud-detector v9 to production",
        body="the report",
        draft=True,
        extra_files={
            "model-manifests/production/fraud-detector.decision.json": record_text(
                "fraud-detector",
                "production",
                "9",
                logistic,
                ({"f1": 0.70}, {"f1": 0.60}),
                Task.MULTICLASS,
                multiclass_curves(),
                data_root,
                later,
            )
        },
    )
    forge.set_verdict(fraud.commit_sha, CommitState.FAILURE, title="reject", summary="reject")
    return churn.pull_request.number, fraud.pull_request.number


def _nothing(stored: StoredEvent) -> None:
    """The board's tests send no webhook: no event reaches the handler."""
    raise AssertionError(f"unexpected event {stored.kind}")


@contextmanager
def running(app: Any) -> Iterator[str]:
    """`app` under uvicorn in a thread on a free port; its URL."""
    listener = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "the board's app did not start within 30 s"
        yield url_of(listener)
    finally:
        server.should_exit = True
        thread.join(15)
        listener.close()


def board_settings(
    sandbox: GitHubSandbox,
    folder: Path,
    scoring_url: str,
    tracking_uri: str | None,
    **board: Any,
) -> Settings:
    """`promobot serve`'s settings for the world: the App, the scoring server, the board."""
    return Settings(
        repo=folder / "bot-checkout",
        data_root=folder / "data",
        mlflow_tracking_uri=tracking_uri,
        local_target_url=scoring_url,
        github=github_settings(sandbox),
        service=ServiceSettings(state_dir=folder / "state", tick_seconds=0),
        board=BoardSettings(git_url=str(sandbox.bare_path()), **{"enabled": True, **board}),
    )


@contextmanager
def board_app(settings: Settings) -> Iterator[tuple[str, ServedBoard]]:
    """`promobot serve`'s app with the board, running; its URL."""
    served = serve_board(settings)
    assert served is not None
    app = create_app(settings.service, _nothing, board=served.router)
    try:
        with running(app) as url:
            yield url, served
    finally:
        served.close()


def clone(sandbox: GitHubSandbox, into: Path) -> Path:
    """A person's clone of the sandbox repository."""
    subprocess.run(["git", "clone", "--quiet", str(sandbox.bare_path()), str(into)], check=True)
    return into
