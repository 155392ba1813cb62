"""Default-branch commits since a known one; CD reads the rest from its local clone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.errors import ForgeError
from bot.forge.base import CommitInfo
from bot.forge.convert import commit_info
from bot.forge.session import RepoSession

PAGE_SIZE = 100
MAX_PAGES = 50


def _list(
    session: RepoSession, branch: str, path: str | None, is_end: Callable[[Any], bool]
) -> tuple[list[Any], bool]:
    """Commits newest first, up to (not including) the first where `is_end`; and if it was met."""
    found: list[Any] = []
    for page in range(1, MAX_PAGES + 1):
        params: dict[str, Any] = {"sha": branch, "per_page": PAGE_SIZE, "page": page}
        if path:
            params["path"] = path
        batch = session.api("GET", "/commits", params=params)
        for item in batch:
            if is_end(item):
                return found, True
            found.append(item)
        if len(batch) < PAGE_SIZE:
            break
    return found, False


def commits_since(
    session: RepoSession, since_sha: str | None, path: str | None
) -> list[CommitInfo]:
    """See `Forge.commits_since`.

    With a path, GitHub's path-filtered list need not contain `since_sha`, so the
    unfiltered list says which commits are newer and the filtered one which touch it.
    """
    branch = session.default_branch_name()
    if since_sha is None:
        commits, _ = _list(session, branch, path, lambda item: False)
        return [commit_info(item) for item in reversed(commits)]
    newer, found = _list(session, branch, None, lambda item: item["sha"] == since_sha)
    if not found:
        raise ForgeError(
            f"commit {since_sha[:7]} is not in the history of {branch}",
            hint="pass a commit of the default branch (was history rewritten?)",
        )
    if path and newer:
        wanted = {item["sha"] for item in newer}
        newer, _ = _list(session, branch, path, lambda item: item["sha"] not in wanted)
    elif path:
        newer = []
    return [commit_info(item) for item in reversed(newer)]
