"""One repository on one PyGithub client, with the Git Data API calls the adapter builds on.

Pull requests, issues, reviews and deployments go through PyGithub's objects.
Blobs, trees, commits and refs go through PyGithub's requester (`Github.requester`,
PyGithub's own way to call an endpoint directly): the object model would fetch
a lazy commit just to read the SHA we already hold, and every request counts.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from github import Github, GithubException
from github.GithubException import RateLimitExceededException
from github.GithubObject import NotSet, Opt
from github.PullRequest import PullRequest
from github.Repository import Repository
from requests.exceptions import RequestException

from bot.errors import ForgeError
from bot.forge.settings import GitHubSettings

Json = dict[str, Any]
S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")

FILE_MODE = "100644"


def github_message(error: GithubException) -> str:
    """GitHub's own message, with the first validation error when there is one."""
    data = error.data if isinstance(error.data, dict) else {}
    message = str(data.get("message") or error.message or "no message")
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        detail = first.get("message") or first.get("code") if isinstance(first, dict) else first
        if detail:
            message = f"{message}: {detail}"
    return message


@contextlib.contextmanager
def forge_errors(action: str) -> Iterator[None]:
    """Turn PyGithub and connection errors into `ForgeError`s that say what failed and why."""
    try:
        yield
    except RateLimitExceededException as error:
        raise ForgeError(
            f"GitHub rate limit while trying to {action}: {github_message(error)}",
            hint="the operation is safe to repeat once the limit resets",
        ) from error
    except GithubException as error:
        hint = {
            401: "check the token or the App's id, key and installation id",
            403: "give the token or the App write access to contents, pull requests, "
            "issues, statuses, checks and deployments",
            404: "check `github.repository` and that the token can see it",
        }.get(error.status, "the operation is safe to repeat")
        raise ForgeError(
            f"GitHub refused to {action} (HTTP {error.status}): {github_message(error)}",
            hint=hint,
        ) from error
    except RequestException as error:
        raise ForgeError(
            f"could not reach GitHub to {action}: {error}",
            hint="check `github.base_url` and the network; the operation is safe to repeat",
        ) from error


def guarded(
    action: str,
) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Decorate an adapter method to run inside `forge_errors(action)`."""

    def wrap(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        def run(owner: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with forge_errors(action):
                return method(owner, *args, **kwargs)

        run.__doc__ = method.__doc__
        return run

    return wrap


def optional(value: str | None) -> Opt[str]:
    """PyGithub's "not given" for None."""
    return NotSet if value is None else value


def clip(text: str, limit: int) -> str:
    """Text shortened to GitHub's field limit."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flip_draft(pull: PullRequest, draft: bool) -> None:
    """REST cannot change a draft flag; GitHub's GraphQL mutations can."""
    if draft:
        pull.convert_to_draft()
    else:
        pull.mark_ready_for_review()


class RepoSession:
    """The repository, its default branch (read once), and raw Git Data API helpers."""

    def __init__(self, gh: Github, settings: GitHubSettings) -> None:
        self.gh = gh
        self.settings = settings
        self.repo: Repository = gh.get_repo(settings.repository)
        self._default_branch = settings.default_branch

    @property
    def base_path(self) -> str:
        """`/repos/owner/name`, the prefix of the repository's endpoints."""
        return f"/repos/{self.settings.repository}"

    def api(self, verb: str, path: str, body: Any = None, params: Json | None = None) -> Any:
        """One request below the repository through PyGithub's requester; returns the JSON."""
        _, data = self.gh.requester.requestJsonAndCheck(
            verb, f"{self.base_path}{path}", parameters=params, input=body
        )
        return data

    def default_branch_name(self) -> str:
        """The default branch's name, read from GitHub once per session."""
        if self._default_branch is None:
            self._default_branch = str(self.repo.default_branch)
        return self._default_branch

    def branch_commit(self, branch: str) -> tuple[str, str]:
        """(commit SHA, tree SHA) at the head of `branch`, in one request."""
        data = self.api("GET", f"/branches/{quote(branch)}")
        commit = data["commit"]
        return str(commit["sha"]), str(commit["commit"]["tree"]["sha"])

    def get_commit(self, sha: str) -> Json:
        """A git commit object (message, committer, parents, tree)."""
        data: Json = self.api("GET", f"/git/commits/{sha}")
        return data

    def create_tree(self, base_tree: str, entries: Sequence[Json]) -> str:
        """A tree: `base_tree` with `entries` applied (content, blob SHA, or None to delete)."""
        data = self.api("POST", "/git/trees", {"base_tree": base_tree, "tree": list(entries)})
        return str(data["sha"])

    def create_commit(self, message: str, tree: str, parent: str) -> str:
        """A commit by the bot on top of `parent`; returns its SHA."""
        who = {"name": self.settings.commit_name, "email": self.settings.commit_email}
        body = {"message": message, "tree": tree, "parents": [parent], "author": who}
        body["committer"] = who
        return str(self.api("POST", "/git/commits", body)["sha"])

    def create_branch(self, branch: str, sha: str) -> bool:
        """Create `refs/heads/<branch>` at `sha`; False when the branch exists already."""
        try:
            self.api("POST", "/git/refs", {"ref": f"refs/heads/{branch}", "sha": sha})
        except GithubException as error:
            if error.status == 422 and "exist" in github_message(error).lower():
                return False
            raise
        return True

    def move_branch(self, branch: str, sha: str) -> None:
        """Point the bot's own branch at `sha` (force: it replaces the bot's earlier commit)."""
        self.api("PATCH", f"/git/refs/heads/{quote(branch)}", {"sha": sha, "force": True})

    def branch_head(self, branch: str) -> str | None:
        """SHA at the head of `branch`, or None when it does not exist."""
        try:
            data = self.api("GET", f"/git/ref/heads/{quote(branch)}")
        except GithubException as error:
            if error.status == 404:
                return None
            raise
        return str(data["object"]["sha"])

    def closed_pull_heads(self, branch: str) -> set[str]:
        """Head SHAs of the closed (or merged) pull requests from `branch`."""
        pulls = self.repo.get_pulls(state="closed", head=f"{self.settings.owner}:{branch}")
        return {pull.head.sha for pull in pulls if pull.head.ref == branch}

    def find_open_pull(self, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch` in this repository, if any."""
        pulls = self.repo.get_pulls(state="open", head=f"{self.settings.owner}:{branch}")
        for pull in pulls:
            if pull.head.ref == branch:
                return pull
        return None


def quote(ref: str) -> str:
    """A branch name for a URL path: slashes stay, everything else is escaped."""
    return urllib.parse.quote(ref, safe="/")
