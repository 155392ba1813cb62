"""`promobot serve` runs the doctor when it starts, and `/readyz` names what the GitHub App
lacks: the real command in a process of its own, against the strict sandbox GitHub whose
App was not granted `members: read`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.support import wait_until
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import (
    APP_ID,
    APP_PERMISSIONS,
    WEBHOOK_SECRET,
    GitHubSandbox,
    WebhookReceiver,
    app_key_pem,
    default_seed,
    make_checks,
    start_github_sandbox,
    write_content,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOT_LOGIN = "promobot[bot]"
MISSING = "missing permission Organization members: read"
POLICY = """apiVersion: promobot/v1
kind: PromotionPolicy
name: team
applies_to: {models: ["churn-*"], environments: [production]}
compare:
  primary: {metric: f1, min_absolute_change: 0.01, significance: null}
approval: {required_approvals: 1, teams: [ml-reviewers]}
"""


@pytest.fixture
def sandbox_without_members(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> Iterator[GitHubSandbox]:
    """acme/models with a policy; the App installed on acme without `members`."""
    receiver = WebhookReceiver()
    content = write_content(tmp_path / "content", {"policies/team.yaml": POLICY})
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key_pem())
    seed: dict[str, Any] = default_seed(receiver.url, content, key_file)
    seed["apps"][0]["permissions"] = {
        name: level for name, level in APP_PERMISSIONS.items() if name != "members"
    }
    checks = make_checks(rest_contract, webhook_contract)
    try:
        with start_github_sandbox(tmp_path / "github", checks, seed=seed) as sandbox:
            yield sandbox
    finally:
        receiver.close()


def test_serve_runs_the_doctor_at_start_and_readyz_names_the_missing_permission(
    sandbox_without_members: GitHubSandbox, tmp_path: Path
) -> None:
    """Before anyone asks /readyz, the started service has listed the App's installations
    and logged the missing permission by name; /readyz then answers 503 naming it, while
    /healthz says the process itself is fine."""
    sandbox = sandbox_without_members
    sandbox.clear_requests()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROMOBOT_")},
        "PROMOBOT_GITHUB__BASE_URL": sandbox.base_url,
        "PROMOBOT_GITHUB__APP_ID": str(APP_ID),
        "PROMOBOT_GITHUB__PRIVATE_KEY": app_key_pem(),
        "PROMOBOT_GITHUB__BOT_LOGIN": BOT_LOGIN,
        "PROMOBOT_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PROMOBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'events.db'}",
        "PROMOBOT_STATE_DIR": str(tmp_path / "state"),
        "PROMOBOT_REPO": str(tmp_path),
        "PROMOBOT_TICK_SECONDS": "0",
        "PROMOBOT_WORKERS": "1",
        "PROMOBOT_BOARD_ENABLED": "false",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", "0", "--log-level", "warning"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on" in line, f"{line!r}\n{log.read_text()}"
        url = line.rsplit(" ", 1)[1].strip()

        wait_until(lambda: MISSING in log.read_text(), timeout=15, what="the doctor's finding")
        logged = [entry for entry in log.read_text().splitlines() if MISSING in entry]
        assert "doctor: error" in logged[0] and "installation 777 (acme)" in logged[0], logged
        asked = [(r["method"], r["path"]) for r in sandbox.requests()]
        assert ("GET", "/api/v3/app/installations") in asked, asked

        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "misconfigured"
        problems = ready.json()["problems"]
        assert [p for p in problems if MISSING in p and "installation 777" in p], problems
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
