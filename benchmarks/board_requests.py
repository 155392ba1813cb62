"""GitHub requests per view of the promotion board, with 20 models and 20 open promotions.

Starts the strict sandbox GitHub (in this process, on a free loopback port) with one GitOps
repository holding 20 model manifests and a policy, opens 20 promotion pull requests with
their decision records as the bot does, starts an empty scoring server, and serves
`promobot serve`'s app with the board. The sandbox's request log counts every REST request
the board makes, 304 answers to conditional requests included (GitHub does not count
those; here they count all the same).

    .venv/bin/python benchmarks/board_requests.py

The last line is `board_view_requests=N` (goal: at most 5): a view once the cache expired.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from promobot_sandbox.github import SandboxServer, prepare
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.board.access import BoardAccess  # noqa: E402
from bot.board.routes import board_routes  # noqa: E402
from bot.board.settings import BoardSettings  # noqa: E402
from bot.board.wiring import build_board  # noqa: E402
from bot.domain.comparison import Comparison, Provenance, Task  # noqa: E402
from bot.domain.record import dump_record, make_record  # noqa: E402
from bot.domain.resolution import resolve_policy  # noqa: E402
from bot.domain.verdict import decide  # noqa: E402
from bot.evaluation.compare import compare_metrics  # noqa: E402
from bot.forge.github import GitHubForge  # noqa: E402
from bot.forge.permissions import required_permissions  # noqa: E402
from bot.forge.settings import GitHubSettings  # noqa: E402
from bot.formats.loading import load_policy_texts  # noqa: E402
from bot.server.app import create_app  # noqa: E402
from bot.server.settings import ServiceSettings  # noqa: E402
from bot.serving.runner import bind, start_in_thread, url_of  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.base import StoredEvent  # noqa: E402

REPO = "acme/models"
APP_ID, INSTALLATION_ID = 4242, 777
BOT = "promobot[bot]"
MODELS = 20
GOAL = 5
CACHE_SECONDS = 30.0
POLICY = """apiVersion: promobot/v1
kind: PromotionPolicy
name: fleet
applies_to: {models: ["m-*"], environments: [production]}
compare:
  primary: {metric: f1, direction: maximize, min_absolute_change: 0.01, significance: null}
approval: {required_approvals: 1, teams: [ml-reviewers]}
"""
PERMISSIONS = required_permissions()


def manifest(model: str, version: str, champion: str | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": model,
            "environment": "production",
            "version": version,
            "source": {"registry": "mlflow", "uri": f"models:/{model}/{version}"},
            "metrics": {"f1": 0.8},
            "evaluation": {"champion_version": champion},
            "deployment": {"target": "local", "endpoint": model},
        },
        sort_keys=False,
    )


def record(model: str) -> str:
    """The decision record propose commits beside the manifest."""
    policy = resolve_policy(load_policy_texts({"policies/fleet.yaml": POLICY}), model, "production")
    comparison = Comparison(
        task=Task.BINARY,
        n=0,
        metrics=compare_metrics({"f1": 0.80}, {"f1": 0.85}),
        provenance=Provenance(code_version="benchmark"),
    )
    return dump_record(
        make_record(
            model=model,
            environment="production",
            version="2",
            champion_version="1",
            comparison=comparison,
            policy=policy,
            verdict=decide(comparison, policy),
            decided_at=dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC),
            promobot_version="benchmark",
        )
    )


def write_seed(folder: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    (folder / "app.pem").write_text(pem)
    content = folder / "content"
    (content / "policies").mkdir(parents=True)
    (content / "policies" / "fleet.yaml").write_text(POLICY)
    (content / "model-manifests" / "production").mkdir(parents=True)
    for index in range(MODELS):
        name = f"m-{index:03d}"
        (content / "model-manifests" / "production" / f"{name}.yaml").write_text(
            manifest(name, "1")
        )
    seed = {
        "users": [{"login": "alice", "token": "token-alice"}],
        "orgs": [{"login": "acme", "admins": ["alice"], "members": []}],
        "teams": [{"org": "acme", "slug": "ml-reviewers", "members": [], "repositories": {}}],
        "repositories": [{"full_name": REPO, "default_branch": "main", "content": str(content)}],
        "apps": [
            {
                "id": APP_ID,
                "slug": "promobot",
                "owner": "acme",
                "private_key": str(folder / "app.pem"),
                "permissions": PERMISSIONS,
                "installations": [{"id": INSTALLATION_ID, "account": "acme"}],
            }
        ],
        "timing": {"mergeability_seconds": 0.05},
    }
    seed_file = folder / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed))
    return seed_file, pem


class Log:
    """The sandbox's request log: every REST request, 304s included."""

    def __init__(self, url: str) -> None:
        self.url = url

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_sandbox/requests").raise_for_status()

    def made(self) -> list[dict[str, Any]]:
        entries = httpx.get(f"{self.url}/_sandbox/requests").json()
        return [e for e in entries if str(e["path"]).startswith("/api/")]


def _ignore(stored: StoredEvent) -> None:
    del stored


def serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    listener = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return url_of(listener), server, thread


def describe(entries: list[dict[str, Any]]) -> str:
    kinds = Counter(
        f"{e['method']} {str(e['path']).split(REPO)[-1]} {e['status']}" for e in entries
    )
    return ", ".join(f"{k} x{n}" for k, n in kinds.most_common()) or "none"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="promobot-board-") as temp:
        folder = Path(temp)
        seed_file, pem = write_seed(folder)
        github = SandboxServer(prepare(folder / "github", seed_file)).start()
        scoring = start_in_thread(state_dir=folder / "serving")
        github_settings = GitHubSettings(
            base_url=github.api_url,
            repository=REPO,
            app_id=APP_ID,
            private_key=SecretStr(pem),
            installation_id=INSTALLATION_ID,
            bot_login=BOT,
            seconds_between_writes=0,
        )
        print(f"opening {MODELS} promotion pull requests ...", flush=True)
        with GitHubForge(github_settings) as forge:
            for index in range(MODELS):
                name = f"m-{index:03d}"
                forge.open_or_update_promotion(
                    model=name,
                    environment="production",
                    manifest_path=f"model-manifests/production/{name}.yaml",
                    manifest_text=manifest(name, "2", "1"),
                    title=f"Promote {name} v2 to production",
                    body="the report",
                    extra_files={f"model-manifests/production/{name}.decision.json": record(name)},
                )
        bare = next((folder / "github").rglob("models.git"))
        settings = Settings(
            repo=folder,
            local_target_url=scoring.url,
            github=github_settings,
            service=ServiceSettings(state_dir=folder / "state", tick_seconds=0),
            board=BoardSettings(git_url=str(bare), cache_seconds=CACHE_SECONDS),
        )
        clock = [0.0]
        service = build_board(settings, clock=lambda: clock[0])
        assert service is not None
        app = create_app(settings.service, _ignore, board=board_routes(service, BoardAccess(None)))
        url, server, thread = serve(app)
        log = Log(github.url)
        figures: dict[str, list[dict[str, Any]]] = {}
        for label, path, advance in (
            ("first view (new token, empty caches)", "/", 0.0),
            (f"a view within {CACHE_SECONDS:g} s", "/", 1.0),
            ("a view after the cache expired", "/", CACHE_SECONDS),
            ("api/board.json after the cache expired", "/api/board.json", CACHE_SECONDS),
            ("a model page with its open promotion", "/models/m-007", 0.0),
        ):
            clock[0] += advance
            log.clear()
            started = time.perf_counter()
            answer = httpx.get(url + path, timeout=120)
            seconds = time.perf_counter() - started
            answer.raise_for_status()
            figures[label] = log.made()
            print(f"{label}: {len(figures[label])} request(s) in {seconds:.2f} s")
            print(f"  {describe(figures[label])}")
        server.should_exit = True
        thread.join(15)
        service.close()
        scoring.stop()
        github.stop()
    expired = len(figures["a view after the cache expired"])
    print(f"\n{MODELS} models, {MODELS} open promotions; goal <= {GOAL} requests per view")
    print(f"board_view_requests={expired}")


if __name__ == "__main__":
    main()
