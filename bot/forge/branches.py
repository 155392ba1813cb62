"""The bot's branches: its one commit under a head, and that commit rebuilt on a new base.

A bot branch holds exactly one bot commit on top of the default branch. GitHub's
"Update branch" may add merges of the base on top of it; those are GitHub's, not a
person's, as long as they bring nothing but the base (a conflict a person resolved
in the web editor is a person's work).
https://docs.github.com/en/rest/pulls/pulls#update-a-pull-request-branch
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.forge.markers import CommitFacts, file_changes, is_bot_commit, is_github_merge
from bot.forge.session import FILE_MODE, RepoSession

MAX_GITHUB_MERGES = 10


@dataclass(frozen=True)
class BotBranch:
    """A bot branch as found: its head, and the bot's own commit at or under it."""

    head: CommitFacts
    commit: CommitFacts

    @property
    def is_rebased_by_github(self) -> bool:
        """True when GitHub's "Update branch" merged the base into it."""
        return self.head.sha != self.commit.sha


def find_bot_commit(session: RepoSession, head_sha: str, branch: str) -> BotBranch | None:
    """The bot's commit for `branch` at `head_sha`, or under GitHub's update merges; None
    when a person's commit is in the way."""
    head = session.commit_facts(head_sha)
    current = head
    for _ in range(MAX_GITHUB_MERGES):
        if not is_github_merge(current):
            break
        current = session.commit_facts(current.parents[0])
    own = is_bot_commit(
        current,
        branch=branch,
        bot_login=session.settings.bot_login,
        bot_email=session.settings.commit_email,
    )
    if not own or (current is not head and not _brings_only_the_base(session, head, current)):
        return None
    return BotBranch(head=head, commit=current)


def _brings_only_the_base(session: RepoSession, head: CommitFacts, bot: CommitFacts) -> bool:
    """Against the base it merged last, the head changes exactly what the bot's commit did."""
    data = session.api("GET", f"/compare/{head.parents[1]}...{head.sha}")
    changed = file_changes(data.get("files") or [])
    return {(f.path, f.blob_sha) for f in changed} == {(f.path, f.blob_sha) for f in bot.files}


def tree_entries(commit: CommitFacts) -> list[dict[str, Any]]:
    """Tree entries that redo `commit`'s file changes on another base."""
    entries: list[dict[str, Any]] = []
    for change in commit.files:
        if change.previous_path and change.previous_path != change.path:
            entries.append({"path": change.previous_path, "mode": FILE_MODE, "sha": None})
        entries.append({"path": change.path, "mode": FILE_MODE, "sha": change.blob_sha})
    return [{**entry, "type": "blob"} for entry in entries]


def rebuild(session: RepoSession, commit: CommitFacts, base_sha: str, base_tree: str) -> str | None:
    """`commit` made again on top of `base_sha`, with the same message; None when the base
    already holds its changes."""
    tree = session.create_tree(base_tree, tree_entries(commit))
    if tree == base_tree:
        return None
    return session.create_commit(commit.message, tree, base_sha)
