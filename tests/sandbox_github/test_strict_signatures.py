"""Who wrote what: statuses record their creator, and GitHub signs the commits an App
creates through the API without naming an author or committer."""

from __future__ import annotations

from github import InputGitAuthor

from tests.sandbox_github.helpers import open_pull
from tests.support.github_sandbox import GitHubSandbox


def test_statuses_record_their_creator(github_sandbox: GitHubSandbox) -> None:
    """Only a status whose creator is the bot may count as the bot's verdict."""
    bot = github_sandbox.github(auth=github_sandbox.app_installation_auth())
    bot_repo = bot.get_repo(github_sandbox.repo_name)
    sha = open_pull(bot_repo).head.sha
    bot_repo.get_commit(sha).create_status("success", context="promobot/policy")
    bob_repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    bob_repo.get_commit(sha).create_status("success", context="promobot/policy")
    creators = [s.creator.login for s in bob_repo.get_commit(sha).get_statuses()]
    assert creators == ["bob", "promobot[bot]"]
    assert bob_repo.get_commit(sha).get_statuses()[1].creator.type == "Bot"


def test_app_commits_without_a_custom_identity_are_verified(github_sandbox: GitHubSandbox) -> None:
    bot = github_sandbox.github(auth=github_sandbox.app_installation_auth())
    repo = bot.get_repo(github_sandbox.repo_name)
    parent = repo.get_git_commit(repo.get_branch("main").commit.sha)
    signed = repo.create_git_commit("Promote", parent.tree, [parent])
    custom = repo.create_git_commit(
        "Promote", parent.tree, [parent], author=InputGitAuthor("promobot", "p@example.com")
    )
    person = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    by_bob = person.create_git_commit("Edit", parent.tree, [parent])
    verification = signed.raw_data["verification"]
    assert (verification["verified"], verification["reason"]) == (True, "valid")
    assert signed.author.name == "promobot[bot]"
    assert signed.author.email.endswith("+promobot[bot]@users.noreply.github.com")
    assert custom.raw_data["verification"]["verified"] is False
    assert by_bob.raw_data["verification"]["reason"] == "unsigned"
    assert repo.get_git_commit(signed.sha).raw_data["verification"]["verified"] is True
