"""The demo's world of real processes, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.data import prepare_data
from bot.demo.loop import Scenario
from bot.demo.narration import Narrator
from bot.demo.world import World
from tests.conftest import PROJECT_ROOT


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
