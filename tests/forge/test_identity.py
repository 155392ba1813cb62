"""Whose commits the bot makes: an App's are signed by GitHub and credited to its bot
account; a token's are its user's or the configured identity's, never a stranger's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.forge.base import PromotionOutcome
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.gitutil import commits_on, git
from tests.forge.support import (
    APP_BOT,
    SeedChange,
    app_settings,
    promote,
    repository,
    token_settings,
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


def test_token_commits_are_the_tokens_user(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """Without a configured identity GitHub credits the token's user, and the bot still
    recognises its own commit by that account when the next challenger comes."""
    forge = make_forge(token_settings(github_sandbox, login="bob"))
    first = promote(forge, 2)
    author = git(
        "log", "-1", "--format=%an <%ae>", first.branch, git_dir=github_sandbox.bare_path()
    )
    assert author.strip() == "Bob <bob@example.com>"
    assert promote(forge, 3).outcome is PromotionOutcome.UPDATED


def test_token_commits_with_a_configured_identity(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A configured identity that no account owns is recognised by its address."""
    settings = token_settings(
        github_sandbox, login="bob", commit_name="Release bot", commit_email="release@example.com"
    )
    forge = make_forge(settings)
    first = promote(forge, 2)
    bare = github_sandbox.bare_path()
    who = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", first.branch, git_dir=bare).strip()
    assert who == "Release bot <release@example.com>|Release bot <release@example.com>"
    assert promote(forge, 3).outcome is PromotionOutcome.UPDATED
