"""Fixtures of the board's tests: one headless Chromium per module, and the board's world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.forge.github import GitHubForge
from bot.serving.runner import RunningServer
from tests.board.browser import Chromium, Page
from tests.board.world import (
    BoardWorld,
    apply_serving,
    board_app,
    board_settings,
    content,
    github_settings,
    open_promotions,
)
from tests.support.github_sandbox import make_checks, start_github_sandbox
from tests.support.serving_models import Registry


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A headless Chromium for the module's tests."""
    browser = Chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Chromium) -> Iterator[Page]:
    """A fresh tab."""
    tab = chromium.new_page()
    yield tab
    tab.call("Page.close")


@pytest.fixture
def world(
    tmp_path: Path,
    registry: Registry,
    scoring_server: RunningServer,
    rest_contract,  # type: ignore[no-untyped-def]
    webhook_contract,
) -> Iterator[BoardWorld]:
    """The board's world (see `tests.board.world`), with a board that reads on every view."""
    data_root = tmp_path / "data"
    data_root.mkdir()
    checks = make_checks(rest_contract, webhook_contract)
    with start_github_sandbox(tmp_path, checks, content=content(registry, data_root)) as sandbox:
        apply_serving(registry, scoring_server, registry.tracking_uri)
        forge = GitHubForge(github_settings(sandbox))
        promotion, refused = open_promotions(forge, registry, data_root)
        settings = board_settings(
            sandbox, tmp_path, scoring_server.url, registry.tracking_uri, cache_seconds=0
        )
        try:
            with board_app(settings) as (url, served):
                yield BoardWorld(
                    sandbox=sandbox,
                    versions=registry,
                    scoring=scoring_server,
                    forge=forge,
                    settings=settings,
                    url=url,
                    served=served,
                    promotion=promotion,
                    refused=refused,
                )
        finally:
            forge.close()
