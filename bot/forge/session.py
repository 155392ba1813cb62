"""One repository on one PyGithub client, with the Git Data API calls the adapter builds on.

Pull requests, issues, reviews and deployments go through PyGithub's objects.
Blobs, trees, commits and refs go through PyGithub's requester (`Github.requester`,
PyGithub's own way to call an endpoint directly): the object model would fetch
a lazy commit just to read the SHA we already hold, and every request counts.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from github import Github, GithubException
from github.GithubException import RateLimitExceededException
from github.GithubObject import NotSet, Opt
from github.PullRequest import PullRequest
from github.Repository import Repository
from github.Requester import Requester
from requests.exceptions import RequestException

from bot.errors import ForgeError
from bot.forge.conditional import REQUEST_HEADER
from bot.forge.errors import ForgeDraftsRefusedError, ForgePermissionError
from bot.forge.markers import CommitFacts
from bot.forge.permissions import Need, describe_need, need_of, permission_for
from bot.forge.settings import GitHubSettings

Json = dict[str, Any]
S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")

FILE_MODE = "100644"
NOT_ACCESSIBLE = "resource not accessible by integration"
DRAFTS_REFUSED = "draft pull requests are not supported"
# https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
PERMISSIONS_DOCS = (
    "https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps"
)
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def github_message(error: GithubException) -> str:
    """GitHub's own message, with the first validation error when there is one."""
    data = error.data if isinstance(error.data, dict) else {}
    message = data.get("message") or error.message
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        detail = first.get("message") or first.get("code") if isinstance(first, dict) else first
        if detail:
            message = f"{message}: {detail}" if message else str(detail)
    return str(message or "no message")


def refused_request(error: GithubException) -> tuple[str, str] | None:
    """(method, path) of the request GitHub refused, as the transport recorded it."""
    label = (error.headers or {}).get(REQUEST_HEADER.lower())
    if not label or " " not in label:
        return None
    method, _, path = str(label).partition(" ")
    return method, path


def accepted_permissions(error: GithubException) -> list[list[tuple[str, str]]]:
    """GitHub's `X-Accepted-GitHub-Permissions`: alternatives of (permission, level) sets."""
    raw = str((error.headers or {}).get("x-accepted-github-permissions") or "")
    alternatives = []
    for option in raw.split(";"):
        pairs = [pair.strip().partition("=") for pair in option.split(",") if "=" in pair]
        if pairs:
            alternatives.append([(name.strip(), level.strip()) for name, _, level in pairs])
    return alternatives


def _need_text(name: str, level: str) -> str:
    try:
        need: Need = need_of(name)
    except StopIteration:
        return f"{name}: {level}"
    return describe_need(need) if need.level.name.lower() == level else f"{need.title}: {level}"


def permission_refusal(action: str, error: GithubException) -> ForgePermissionError:
    """A 403 "Resource not accessible by integration", naming the missing permission."""
    request = refused_request(error)
    accepted = accepted_permissions(error)
    known = permission_for(*request) if request is not None else None
    if accepted:
        options = [" and ".join(_need_text(n, lv) for n, lv in option) for option in accepted]
        needed, name = " or ".join(options), accepted[0][0][0]
    elif known is not None:
        needed, name = describe_need(known), known.name
    else:
        needed, name = "a permission promobot does not know of", None
    where = f"{request[0]} {request[1]}" if request is not None else "this endpoint"
    return ForgePermissionError(
        f"GitHub refused to {action} (HTTP 403): {github_message(error)}",
        permission=name,
        hint=f"{where} needs the App permission {needed}; grant it in the App's settings "
        "(Permissions & events) and accept it on the installation; see `promobot doctor` "
        f"and {PERMISSIONS_DOCS}",
    )


def refusal(action: str, error: GithubException) -> ForgeError:
    """A `ForgeError` for GitHub's refusal, with a hint a person can act on."""
    message = github_message(error)
    if error.status == 403 and NOT_ACCESSIBLE in message.lower():
        return permission_refusal(action, error)
    if DRAFTS_REFUSED in message.lower():
        # https://docs.github.com/en/get-started/learning-about-github/githubs-plans
        return ForgeDraftsRefusedError(
            f"GitHub refused to {action}: {message}",
            hint="drafts need GitHub Team or Enterprise in a private repository; open a "
            "plain pull request instead",
        )
    request = refused_request(error)
    need = permission_for(*request) if request is not None else None
    hint = {
        401: "check the token or the App's id, key and installation id",
        403: "give the token's user write access to the repository"
        + (f"; {request[0]} {request[1]} needs {describe_need(need)}" if request and need else ""),
        404: "check `github.repository` and that the token can see it",
    }.get(error.status, "the operation is safe to repeat")
    return ForgeError(f"GitHub refused to {action} (HTTP {error.status}): {message}", hint=hint)


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
        raise refusal(action, error) from error
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

    def __init__(self, gh: Github, settings: GitHubSettings, repository: str) -> None:
        self.gh = gh
        self.settings = settings
        self.repository = repository
        self.repo: Repository = gh.get_repo(repository)
        self._default_branch = settings.default_branch

    @property
    def owner(self) -> str:
        """Owner (user or organisation) of the repository."""
        return self.repository.partition("/")[0]

    @property
    def base_path(self) -> str:
        """`/repos/owner/name`, the prefix of the repository's endpoints."""
        return f"/repos/{self.repository}"

    def api(self, verb: str, path: str, body: Any = None, params: Json | None = None) -> Any:
        """One request below the repository through PyGithub's requester; returns the JSON."""
        _, data = self.gh.requester.requestJsonAndCheck(
            verb, f"{self.base_path}{path}", parameters=params, input=body
        )
        return data

    def pages(self, path: str, params: Json | None = None, key: str | None = None) -> Iterator[Any]:
        """Every item of a paged list below the repository (see `pages`)."""
        query = {**(params or {}), "per_page": self.settings.per_page}
        return pages(self.gh.requester, f"{self.base_path}{path}", query, key)

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

    def commit_facts(self, sha: str) -> CommitFacts:
        """A commit as GitHub shows it: whose accounts made it, its signature, its files."""
        return CommitFacts.from_json(self.api("GET", f"/commits/{sha}"))

    def create_tree(self, base_tree: str, entries: Sequence[Json]) -> str:
        """A tree: `base_tree` with `entries` applied (content, blob SHA, or None to delete)."""
        data = self.api("POST", "/git/trees", {"base_tree": base_tree, "tree": list(entries)})
        return str(data["sha"])

    def create_commit(self, message: str, tree: str, parent: str) -> str:
        """A commit by the bot on top of `parent`; returns its SHA.

        An App names no author or committer: GitHub then makes the App's bot both and
        signs the commit, so rulesets that require signed commits accept it. A token
        names the configured identity, or none (GitHub uses the token's user).
        https://docs.github.com/en/authentication/managing-commit-signature-verification/about-commit-signature-verification#signature-verification-for-bots
        """
        body: Json = {"message": message, "tree": tree, "parents": [parent]}
        name, email = self.settings.commit_name, self.settings.commit_email
        if not self.settings.uses_app and name is not None and email is not None:
            body["author"] = body["committer"] = {"name": name, "email": email}
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
        pulls = self.repo.get_pulls(state="closed", head=f"{self.owner}:{branch}")
        return {pull.head.sha for pull in pulls if pull.head.ref == branch}

    def find_open_pull(self, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch` in this repository, if any."""
        pulls = self.repo.get_pulls(state="open", head=f"{self.owner}:{branch}")
        for pull in pulls:
            if pull.head.ref == branch:
                return pull
        return None


def pages(requester: Requester, url: str, params: Json, key: str | None = None) -> Iterator[Any]:
    """Every item of a paged list, following `Link: rel="next"`; `key` names the list
    inside an object answer (`check_runs`, `repositories`).
    https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    """
    next_url: str | None = url
    query: Json | None = params
    while next_url is not None:
        headers, data = requester.requestJsonAndCheck("GET", next_url, parameters=query)
        yield from (data.get(key, []) if key is not None else data) or []
        found = _NEXT_LINK.search(str(headers.get("link") or ""))
        next_url, query = (found.group(1), None) if found else (None, None)


def quote(ref: str) -> str:
    """A branch name for a URL path: slashes stay, everything else is escaped."""
    return urllib.parse.quote(ref, safe="/")
