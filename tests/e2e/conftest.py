"""The demo's world of real processes, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.demo.data import prepare_data
from bot.demo.loop import Scenario
from bot.demo.narration import Narrator
from bot.demo.world import World
from bot.webhooks.signatures import sign_github
from tests.conftest import PROJECT_ROOT
from tests.support.http import LOCAL


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    world = World(tmp_path / "demo", PROJECT_ROOT)
    scenario = Scenario(world, prepare_data(world.workdir), Narrator())
    try:
        yield scenario
    finally:
        scenario.close()
        world.services.stop()
        for log in sorted((world.workdir / "logs").glob("*.log")):
            print(f"--- {log.name} (last lines)")
            print("\n".join(log.read_text(errors="replace").splitlines()[-25:]))


def send_github(scenario: Scenario, body: bytes, delivery: str, secret: str) -> int | None:
    """POST a signed `issue_comment` delivery to the bot; its status, None if the bot is gone."""
    headers = {
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_github(secret, body),
        "Content-Type": "application/json",
    }
    try:
        reply = LOCAL.post(
            f"{scenario.world.url('bot')}/webhooks/github", content=body, headers=headers
        )
    except httpx.TransportError:
        return None
    return reply.status_code
