"""GitHub requests per hour at idle, against the installation's budget of 5,000.

Starts the strict sandbox GitHub (in this process, on a free loopback port) with one
GitOps repository holding 20 model manifests and 20 open promotion pull requests that
wait for approval, and an MLflow registry (SQLite) with 200 registered models. The bot's
router then runs one simulated hour of ticks (one a minute) as `promobot serve` does,
the first with a new installation token and empty caches (as after the hourly renewal,
since ETags are per token). The sandbox counts what GitHub would count: 304 answers to
conditional requests are free.

Beside it, the requests one full promotion costs: propose a better version, a reviewer
approves, the bot merges, CD records a deployment with its statuses.

    .venv/bin/python benchmarks/rate_budget.py

The last line is `counted_requests_per_hour=N` (goal: at most 250, 5% of 5,000).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mlflow.tracking import MlflowClient
from promobot_sandbox.github import SandboxServer, prepare
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import ServedRepositories, workflows_factory  # noqa: E402
from bot.forge.base import CommitState, DeploymentState  # noqa: E402
from bot.forge.permissions import required_permissions  # noqa: E402
from bot.forge.settings import GitHubSettings  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.sql import SqlEventStore  # noqa: E402
from bot.webhooks.events import ReviewSubmitted, Tick  # noqa: E402
from bot.workflows.propose import propose  # noqa: E402
from bot.workflows.routing import Router  # noqa: E402

REPO = "acme/models"
APP_ID, INSTALLATION_ID = 4242, 777
BOT = "promobot[bot]"
OPEN_PULL_REQUESTS = 20
REGISTERED_MODELS = 200
TICKS_PER_HOUR = 60
GOAL = 250
START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
PERMISSIONS = required_permissions()
POLICY = """apiVersion: promobot/v1
kind: PromotionPolicy
name: team
applies_to: {models: ["m-*"], environments: [production]}
compare:
  primary: {metric: f1, min_absolute_change: 0.01, significance: null}
approval: {required_approvals: 1, teams: [ml-reviewers], automerge: {enabled: true}}
on_rejected: draft
"""


def manifest(model: str, version: str, f1: float) -> str:
    return (
        f"apiVersion: promobot/v1\nkind: ModelManifest\nmodel: {model}\n"
        f"environment: production\nversion: '{version}'\n"
        f"source: {{registry: mlflow, uri: 'models:/{model}/{version}'}}\n"
        f"metrics: {{f1: {f1}}}\ndeployment: {{endpoint: {model}}}\n"
    )


def write_seed(folder: Path, key: Path) -> Path:
    content = folder / "content"
    (content / "policies").mkdir(parents=True)
    (content / "policies" / "team.yaml").write_text(POLICY)
    (content / "model-manifests" / "production").mkdir(parents=True)
    for index in range(OPEN_PULL_REQUESTS + 1):
        name = f"m-{index:03d}"
        path = content / "model-manifests" / "production" / f"{name}.yaml"
        path.write_text(manifest(name, "1", 0.80))
    seed = {
        "users": [
            {"login": "alice", "token": "token-alice"},
            {"login": "carol", "token": "token-carol"},
        ],
        "orgs": [{"login": "acme", "admins": ["alice"], "members": ["carol"]}],
        "teams": [
            {
                "org": "acme",
                "slug": "ml-reviewers",
                "members": ["carol"],
                "repositories": {REPO: "write"},
            },
        ],
        "repositories": [{"full_name": REPO, "default_branch": "main", "content": str(content)}],
        "apps": [
            {
                "id": APP_ID,
                "slug": "promobot",
                "owner": "acme",
                "private_key": str(key),
                "permissions": PERMISSIONS,
                "installations": [{"id": INSTALLATION_ID, "account": "acme"}],
            }
        ],
        "timing": {"mergeability_seconds": 0.05},
    }
    seed_file = folder / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed))
    return seed_file


def private_key(folder: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = folder / "app.pem"
    path.write_text(pem)
    return path, pem


def register(client: MlflowClient, experiment: str, name: str, f1: float) -> None:
    """A version of `name` whose run logged `f1`."""
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "f1", f1)
    client.set_terminated(run.info.run_id)
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)


def register_all(client: MlflowClient, experiment: str) -> None:
    """200 models, one version each: at idle nothing is newer than what serves."""
    for index in range(REGISTERED_MODELS):
        name = f"m-{index:03d}"
        client.create_registered_model(name)
        register(client, experiment, name, 0.80)


class Log:
    """The sandbox's request log: what the bot's installation token spent."""

    def __init__(self, url: str) -> None:
        self.url = url

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_sandbox/requests").raise_for_status()

    def counted(self) -> list[dict[str, Any]]:
        entries = httpx.get(f"{self.url}/_sandbox/requests").json()
        return [
            e
            for e in entries
            if e.get("counted") and (e.get("identity") or {}).get("kind") == "installation"
        ]


def open_waiting_pull_requests(repositories: ServedRepositories) -> None:
    """20 promotion pull requests, each with the bot's passing verdict, waiting for approval."""
    (services,) = repositories.served()
    for index in range(1, OPEN_PULL_REQUESTS + 1):
        name = f"m-{index:03d}"
        opened = services.forge.open_or_update_promotion(
            model=name,
            environment="production",
            manifest_path=f"model-manifests/production/{name}.yaml",
            manifest_text=manifest(name, "1", 0.80).replace("0.8}", "0.81}"),
            title=f"Promote {name}",
            body="waiting for approval",
            labels=("promotion",),
        )
        services.forge.set_verdict(
            opened.commit_sha, CommitState.SUCCESS, title="promote", summary="promote"
        )


def simulate_hour(router: Router, clock: list[dt.datetime], log: Log) -> list[int]:
    per_tick = []
    for minute in range(TICKS_PER_HOUR):
        clock[0] = START + dt.timedelta(minutes=minute)
        log.clear()
        router.handle(Tick(now=clock[0]))
        per_tick.append(len(log.counted()))
    return per_tick


def full_promotion(router: Router, repositories: ServedRepositories, url: str, log: Log) -> int:
    """propose -> approve -> merge -> deployment with statuses; the bot's counted requests."""
    (services,) = repositories.served()
    log.clear()
    result = propose(services, None, "m-000", "2", "production", START)
    assert result.pull_request is not None, result.detail
    number = result.pull_request.number
    carol = httpx.Client(base_url=f"{url}/api/v3", headers={"Authorization": "token token-carol"})
    carol.post(
        f"/repos/{REPO}/pulls/{number}/reviews",
        json={"event": "APPROVE", "commit_id": result.pull_request.head_sha},
    ).raise_for_status()
    carol.close()
    router.handle(
        ReviewSubmitted(
            repo=REPO,
            number=number,
            action="submitted",
            state="approved",
            user="carol",
            commit_id=result.pull_request.head_sha,
            review_id=1,
            head_sha=result.pull_request.head_sha,
        )
    )
    merged = services.forge.get_pull_request(number, with_files=False)
    assert merged.merged, "the promotion did not merge"
    deployment = services.forge.create_deployment(merged.merge_commit_sha or "", "production/m-000")
    services.forge.set_deployment_status(deployment.id, DeploymentState.IN_PROGRESS)
    services.forge.set_deployment_status(deployment.id, DeploymentState.SUCCESS)
    return len(log.counted())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="promobot-rate-") as temp:
        folder = Path(temp)
        key_path, pem = private_key(folder)
        server = SandboxServer(prepare(folder / "github", write_seed(folder, key_path))).start()
        tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
        print(f"registering {REGISTERED_MODELS} models in MLflow ...", flush=True)
        client = MlflowClient(tracking_uri=tracking_uri)
        experiment = client.create_experiment("bench")
        register_all(client, experiment)
        settings = Settings(
            repo=folder,
            mlflow_tracking_uri=tracking_uri,
            github=GitHubSettings(
                base_url=server.api_url,
                app_id=APP_ID,
                private_key=SecretStr(pem),
                bot_login=BOT,
                seconds_between_writes=0,
            ),
        )
        store = SqlEventStore(f"sqlite:///{folder / 'events.db'}")
        log = Log(server.url)
        clock = [START]

        def build() -> tuple[Router, ServedRepositories]:
            repositories = ServedRepositories(settings)
            router = Router(
                repositories, workflows_factory(settings, store.decisions, lambda: clock[0])
            )
            return router, repositories

        router, repositories = build()
        open_waiting_pull_requests(repositories)
        repositories.close()
        # A new token and empty caches, as after the hourly renewal of the installation token.
        router, repositories = build()
        print(f"one simulated hour of ticks ({TICKS_PER_HOUR}) ...", flush=True)
        per_tick = simulate_hour(router, clock, log)
        register(client, experiment, "m-000", 0.85)
        per_promotion = full_promotion(router, repositories, server.url, log)
        kinds = Counter(
            f"{e['method']} {e['path'].split('/repos/acme/models')[-1][:40]}" for e in log.counted()
        )
        repositories.close()
        store.close()
        server.stop()

    hourly = sum(per_tick)
    print(f"\n{OPEN_PULL_REQUESTS} open promotion pull requests, {REGISTERED_MODELS} models")
    print(f"first tick (new token, cold caches): {per_tick[0]} counted requests")
    steady = per_tick[1:]
    print(f"ticks 2-{TICKS_PER_HOUR}: {sum(steady)} counted ({max(steady)} at most in one)")
    print(f"one hour: {hourly} counted of 5,000 ({hourly / 5000:.1%}); goal <= {GOAL}")
    print(f"one full promotion (propose, approve, merge, deploy statuses): {per_promotion} counted")
    print("  " + ", ".join(f"{k} x{n}" for k, n in kinds.most_common(8)))
    print(f"counted_requests_per_hour={hourly}")


if __name__ == "__main__":
    main()
