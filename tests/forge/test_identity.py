"""An App's commits are signed by GitHub and credited to its bot account, so rulesets that
require signed commits accept them (whose commits a token makes is in the contract)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.forge.base import PromotionOutcome
from bot.forge.github import GitHubForge
from tests.forge.gitutil import commits_on
from tests.forge.support import (
    APP_BOT,
    SeedChange,
    app_settings,
    promote,
    repository,
)
from tests.support.github_sandbox import GitHubSandbox


def signed_promotion_branches(seed: dict[str, Any]) -> None:
    """A ruleset requiring signed commits on the bot's branches."""
    repository(seed)["rulesets"] = [
        {
            "name": "signed promotions",
            "conditions": {"ref_name": {"include": ["refs/heads/promobot/**"], "exclude": []}},
            "rules": [{"type": "required_signatures"}],
        }
    ]


def test_app_commits_are_signed_and_credited_to_the_app(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """No custom author: GitHub signs the commit and shows the App's bot as its author."""
    sha = promote(forge, 2).commit_sha
    commit = github_sandbox.github("alice").get_repo(github_sandbox.repo_name).get_commit(sha)
    assert commit.commit.raw_data["verification"]["verified"] is True
    assert commit.author.login == APP_BOT
    assert commit.committer.login == APP_BOT


def test_signed_commit_rulesets_accept_the_apps_branch(
    make_sandbox: Callable[[SeedChange], GitHubSandbox],
) -> None:
    """ "Require signed commits" on `promobot/**` would refuse an unsigned bot commit."""
    sandbox = make_sandbox(signed_promotion_branches)
    with GitHubForge(app_settings(sandbox)) as forge:
        first = promote(forge, 2)
        second = promote(forge, 3)
    assert first.outcome is PromotionOutcome.CREATED
    assert second.outcome is PromotionOutcome.UPDATED
    assert commits_on(sandbox.bare_path(), second.branch) == [second.commit_sha]
