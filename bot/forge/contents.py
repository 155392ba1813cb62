"""Files of the repository at a ref, through the Contents API (manifests and policies)."""

from __future__ import annotations

from github import GithubException

from bot.forge.session import RepoSession


def read_file(session: RepoSession, path: str, ref: str | None) -> str | None:
    """Text of `path` at `ref` (the default branch when None); None when absent."""
    at = ref or session.default_branch_name()
    try:
        content = session.repo.get_contents(path, ref=at)
    except GithubException as error:
        if error.status == 404:
            return None
        raise
    if isinstance(content, list):
        return None
    return content.decoded_content.decode("utf-8")


def list_files(session: RepoSession, path: str, ref: str | None) -> list[str]:
    """Paths of the files under the directory `path`, recursively and sorted; [] if absent."""
    at = ref or session.default_branch_name()
    found: list[str] = []
    pending = [path.rstrip("/")]
    while pending:
        try:
            listing = session.repo.get_contents(pending.pop(), ref=at)
        except GithubException as error:
            if error.status == 404:
                continue
            raise
        for item in listing if isinstance(listing, list) else [listing]:
            if item.type == "dir":
                pending.append(item.path)
            elif item.type == "file":
                found.append(item.path)
    return sorted(found)
