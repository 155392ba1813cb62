"""What a board view costs in GitHub requests, counted by the sandbox GitHub's request log
(conditional requests answered 304 count here too, though GitHub does not count them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.board.access import BoardAccess
from bot.board.routes import board_routes
from bot.board.wiring import build_board
from bot.domain.comparison import Task
from bot.forge.github import GitHubForge
from bot.server.app import create_app
from bot.serving.runner import start_in_thread
from bot.store.base import StoredEvent
from tests.board.world import (
    binary_curves,
    board_settings,
    github_settings,
    record_text,
    running,
)
from tests.cd.support import manifest_text
from tests.support.github_sandbox import make_checks, start_github_sandbox
from tests.support.http import LOCAL

MODELS = 20
GOAL = 5
POLICY = """apiVersion: promobot/v1
kind: PromotionPolicy
name: fleet
applies_to: {models: ["m-*"], environments: [production]}
compare:
  primary: {metric: f1, direction: maximize, min_absolute_change: 0.01, significance: null}
approval: {required_approvals: 1, teams: [ml-reviewers]}
"""


def names() -> list[str]:
    return [f"m-{index:03d}" for index in range(MODELS)]


def _ignore(stored: StoredEvent) -> None:
    del stored


def requests_made(sandbox: Any) -> list[dict[str, Any]]:
    """Every REST request the sandbox answered (304s included), whoever made it."""
    return [e for e in sandbox.requests() if e["path"].startswith("/api/")]


def test_a_board_view_with_twenty_open_promotions_costs_at_most_five_requests(
    tmp_path: Path,
    rest_contract,
    webhook_contract,  # type: ignore[no-untyped-def]
) -> None:
    """The board must not eat the App's hourly budget: git gives manifests, policies, records
    and history, so a view costs one listing of the open pull requests, and nothing within
    the cache period."""
    content = {"policies/fleet.yaml": POLICY}
    for name in names():
        content[f"model-manifests/production/{name}.yaml"] = manifest_text(name, "1")
    scoring = start_in_thread(state_dir=tmp_path / "serving")
    checks = make_checks(rest_contract, webhook_contract)
    with start_github_sandbox(tmp_path, checks, content=content) as sandbox:
        forge = GitHubForge(github_settings(sandbox))
        for name in names():
            forge.open_or_update_promotion(
                model=name,
                environment="production",
                manifest_path=f"model-manifests/production/{name}.yaml",
                manifest_text=manifest_text(name, "2", champion="1"),
                title=f"Promote {name} v2 to production",
                body="the report",
                extra_files={
                    f"model-manifests/production/{name}.decision.json": record_text(
                        name,
                        "production",
                        "2",
                        "1",
                        ({"f1": 0.8}, {"f1": 0.85}),
                        Task.BINARY,
                        binary_curves(),
                        tmp_path / "data",
                        policy_texts={"policies/fleet.yaml": POLICY},
                    )
                },
            )
        forge.close()
        clock = [0.0]
        settings = board_settings(sandbox, tmp_path, scoring.url, None, cache_seconds=30)
        service = build_board(settings, clock=lambda: clock[0])
        assert service is not None
        app = create_app(settings.service, _ignore, board=board_routes(service, BoardAccess(None)))
        try:
            with running(app) as url:
                sandbox.clear_requests()
                first = LOCAL.get(url + "/", timeout=60)
                cold = requests_made(sandbox)
                sandbox.clear_requests()
                LOCAL.get(url + "/", timeout=60)
                cached = requests_made(sandbox)
                clock[0] += 31
                sandbox.clear_requests()
                LOCAL.get(url + "/api/board.json", timeout=60)
                expired = requests_made(sandbox)
        finally:
            service.close()
            scoring.stop()
    assert first.status_code == 200
    assert first.text.count('class="proposal"') == MODELS
    assert len(cold) <= GOAL, [(e["method"], e["path"]) for e in cold]
    assert cached == []
    assert len(expired) <= GOAL, [(e["method"], e["path"], e["status"]) for e in expired]
