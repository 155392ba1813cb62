"""A forge and the people around it, for tests that read the same against the sandbox GitHub
(over HTTP, through `GitHubForge`) and the in-memory forge (`MemoryForge`).

A `Site` holds the bot's forge (the App, as in production), forges for other sign-ins,
and `people`: what people and git do there (review, comment, push a commit, press
"Update branch", post a status) and what git and GitHub then hold. `SiteSetup` states
how the repository differs from the sandbox's default seed.

    site = open_site("memory", tmp_path, SiteSetup(protection=Protection(strict=True)))
    site.people.review("carol", number)
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from github import GithubException

from bot.forge.base import CommitState, Forge, GitCredentials
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import app_settings, token_settings
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import (
    APP_PERMISSIONS,
    DEFAULT_CONTENT,
    ORG,
    GitHubSandbox,
    WebhookReceiver,
    app_key_pem,
    default_seed,
    make_checks,
    start_github_sandbox,
    write_content,
)
from tests.support.http import LOCAL
from tests.support.memory_forge import MemoryForge
from tests.support.memory_github import MemoryGitHub, Protection, Team, default_teams

ForgeKind = Literal["memory", "sandbox"]
FORGE_KINDS: tuple[ForgeKind, ...] = ("memory", "sandbox")


@dataclass(frozen=True)
class SiteSetup:
    """How the repository and the App differ from the sandbox's default seed."""

    content: dict[str, str] | None = None
    missing_permission: str | None = None
    drafts_allowed: bool = True
    protection: Protection = field(default_factory=Protection)
    team_without_access: str | None = None
    installation_token_ttl: int | None = None

    def app_permissions(self) -> dict[str, str]:
        return {k: v for k, v in APP_PERMISSIONS.items() if k != self.missing_permission}


class People(Protocol):
    """What people and other Apps do on GitHub around the bot, and what git then holds."""

    def review(self, login: str, number: int, event: str = "APPROVE", body: str = "lgtm") -> None:
        """`login` reviews the pull request's current head."""
        ...

    def comment(self, login: str, number: int, body: str) -> None: ...

    def edit_body(self, login: str, number: int, body: str) -> None: ...

    def commit_file(
        self, login: str, branch: str, path: str, text: str, message: str = "edit"
    ) -> str:
        """A person's commit of one file on `branch` (the Contents API); its SHA."""
        ...

    def update_branch(self, login: str, number: int) -> None:
        """The "Update branch" button: GitHub merges the base into the head."""
        ...

    def set_status(
        self, login: str, sha: str, state: CommitState, context: str, description: str = ""
    ) -> None: ...

    def file_at(self, ref: str, path: str) -> str | None: ...

    def head_of(self, branch: str) -> str: ...

    def commits_on(self, branch: str) -> list[str]:
        """Commits on `branch` that the default branch lacks, newest first."""
        ...

    def parents_of(self, sha: str) -> list[str]: ...

    def message_of(self, sha: str) -> str: ...

    def made_by(self, sha: str) -> tuple[str, str]:
        """`Name <email>` of the commit's author and of its committer."""
        ...

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment, oldest first, with `states` and `descriptions` oldest first."""
        ...

    def check_run(self, sha: str, name: str) -> dict[str, Any]:
        """The newest check run of `name` on `sha`: `app_id`, `conclusion`, `output`."""
        ...

    def can_read(self, credentials: GitCredentials) -> bool:
        """Whether GitHub takes `credentials` for reading the repository."""
        ...

    def clear_requests(self) -> None: ...

    def repository_requests(self) -> list[str]:
        """What was asked of repositories since `clear_requests`."""
        ...


@dataclass
class Site:
    """A forge, its repository's people, and forges for other sign-ins."""

    kind: ForgeKind
    forge: Forge
    people: People
    make_app_forge: Callable[..., Forge]
    make_token_forge: Callable[..., Forge]
    sandbox: GitHubSandbox | None = None

    def app_forge(self, **overrides: Any) -> Forge:
        return self.make_app_forge(**overrides)

    def token_forge(self, login: str = "bob", **overrides: Any) -> Forge:
        return self.make_token_forge(login, **overrides)


# --- the in-memory forge -------------------------------------------------------------------


class MemoryPeople:
    """`People` on a `MemoryGitHub`."""

    def __init__(self, github: MemoryGitHub) -> None:
        self.github = github

    def review(self, login: str, number: int, event: str = "APPROVE", body: str = "lgtm") -> None:
        self.github.review(login, number, event, body)

    def comment(self, login: str, number: int, body: str) -> None:
        self.github.comment(login, number, body)

    def edit_body(self, login: str, number: int, body: str) -> None:
        del login
        self.github.edit_pull(number, body=body)

    def commit_file(
        self, login: str, branch: str, path: str, text: str, message: str = "edit"
    ) -> str:
        return self.github.commit_file(login, branch, path, text, message)

    def update_branch(self, login: str, number: int) -> None:
        self.github.update_branch(login, number)

    def set_status(
        self, login: str, sha: str, state: CommitState, context: str, description: str = ""
    ) -> None:
        self.github.set_status(login, sha, state, context, description)

    def file_at(self, ref: str, path: str) -> str | None:
        return self.github.file_at(ref, path)

    def head_of(self, branch: str) -> str:
        return self.github.git.branches[branch]

    def commits_on(self, branch: str) -> list[str]:
        return self.github.commits_on(branch)

    def parents_of(self, sha: str) -> list[str]:
        return list(self.github.commit(sha).parents)

    def message_of(self, sha: str) -> str:
        return self.github.commit(sha).message

    def made_by(self, sha: str) -> tuple[str, str]:
        commit = self.github.commit(sha)
        author, committer = commit.author, commit.committer
        return f"{author.name} <{author.email}>", f"{committer.name} <{committer.email}>"

    def deployments(self) -> list[dict[str, Any]]:
        return [
            {
                "id": d.id,
                "sha": d.sha,
                "environment": d.environment,
                "payload": d.payload,
                "creator": d.creator,
                "states": [s["state"] for s in d.statuses],
                "descriptions": [s["description"] for s in d.statuses],
            }
            for d in self.github.deployments.values()
        ]

    def check_run(self, sha: str, name: str) -> dict[str, Any]:
        runs = [r for r in self.github.check_runs.values() if r.sha == sha and r.name == name]
        run = runs[-1]
        return {"app_id": run.app_id, "conclusion": run.conclusion, "output": dict(run.output)}

    def can_read(self, credentials: GitCredentials) -> bool:
        token = credentials.password.get_secret_value()
        expires = self.github.installation_tokens.get(token)
        if expires is not None:
            return expires > self.github.clock()
        return token in self.github.tokens.values()

    def clear_requests(self) -> None:
        self.github.requests.clear()

    def repository_requests(self) -> list[str]:
        return list(self.github.requests)


def memory_site(setup: SiteSetup) -> Site:
    """The in-memory forge on the sandbox's default seed, changed as `setup` says."""
    teams = default_teams()
    if setup.team_without_access is not None:
        teams[setup.team_without_access] = Team(members={"bob"}, has_access=False)
    github = MemoryGitHub(
        content=setup.content,
        teams=teams,
        app_permissions=setup.app_permissions(),
        drafts_allowed=setup.drafts_allowed,
        protection=setup.protection,
        installation_token_ttl=setup.installation_token_ttl or 3600,
    )

    def app_forge(**overrides: Any) -> Forge:
        return MemoryForge(github, **overrides)

    def token_forge(login: str, **overrides: Any) -> Forge:
        return MemoryForge(github, token_login=login, **overrides)

    return Site("memory", app_forge(), MemoryPeople(github), app_forge, token_forge)


# --- the sandbox GitHub --------------------------------------------------------------------


class SandboxPeople:
    """`People` on the sandbox: PyGithub as each user, git on the bare repository."""

    def __init__(self, sandbox: GitHubSandbox) -> None:
        self.sandbox = sandbox
        self._repos: dict[str, Any] = {}

    def repo(self, login: str) -> Any:
        """PyGithub's repository as `login` sees it."""
        if login not in self._repos:
            self._repos[login] = self.sandbox.github(login).get_repo(self.sandbox.repo_name)
        return self._repos[login]

    def review(self, login: str, number: int, event: str = "APPROVE", body: str = "lgtm") -> None:
        repo = self.repo(login)
        pull = repo.get_pull(number)
        pull.create_review(commit=repo.get_commit(pull.head.sha), event=event, body=body)

    def comment(self, login: str, number: int, body: str) -> None:
        self.repo(login).get_issue(number).create_comment(body)

    def edit_body(self, login: str, number: int, body: str) -> None:
        self.repo(login).get_pull(number).edit(body=body)

    def commit_file(
        self, login: str, branch: str, path: str, text: str, message: str = "edit"
    ) -> str:
        repo = self.repo(login)
        try:
            current = repo.get_contents(path, ref=branch)
        except GithubException as error:
            if error.status != 404:
                raise
            done = repo.create_file(path, message, text, branch=branch)
        else:
            done = repo.update_file(path, message, text, current.sha, branch=branch)
        return str(done["commit"].sha)

    def update_branch(self, login: str, number: int) -> None:
        assert self.repo(login).get_pull(number).update_branch()

    def set_status(
        self, login: str, sha: str, state: CommitState, context: str, description: str = ""
    ) -> None:
        commit = self.repo(login).get_commit(sha)
        commit.create_status(state.value, description=description or "", context=context)

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        bare = self.sandbox.bare_path()
        return subprocess.run(
            ["git", f"--git-dir={bare}", *args], capture_output=True, text=True, check=False
        )

    def _git_out(self, *args: str) -> str:
        done = self.git(*args)
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def file_at(self, ref: str, path: str) -> str | None:
        done = self.git("show", f"{ref}:{path}")
        return done.stdout if done.returncode == 0 else None

    def head_of(self, branch: str) -> str:
        return self._git_out("rev-parse", f"refs/heads/{branch}").strip()

    def commits_on(self, branch: str) -> list[str]:
        return self._git_out("rev-list", f"main..refs/heads/{branch}").split()

    def parents_of(self, sha: str) -> list[str]:
        return self._git_out("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def message_of(self, sha: str) -> str:
        return self._git_out("cat-file", "commit", sha).partition("\n\n")[2]

    def made_by(self, sha: str) -> tuple[str, str]:
        line = self._git_out("log", "-1", "--format=%an <%ae>|%cn <%ce>", sha).strip()
        author, _, committer = line.partition("|")
        return author, committer

    def deployments(self) -> list[dict[str, Any]]:
        http = self.sandbox.http("alice")
        base = f"/repos/{self.sandbox.repo_name}/deployments"
        found = []
        for raw in reversed(http.get(base).json()):
            statuses = list(reversed(http.get(f"{base}/{raw['id']}/statuses").json()))
            found.append(
                {
                    "id": raw["id"],
                    "sha": raw["sha"],
                    "environment": raw["environment"],
                    "payload": raw["payload"],
                    "creator": raw["creator"]["login"],
                    "states": [s["state"] for s in statuses],
                    "descriptions": [s["description"] for s in statuses],
                }
            )
        return found

    def check_run(self, sha: str, name: str) -> dict[str, Any]:
        runs = [r for r in self.repo("alice").get_commit(sha).get_check_runs() if r.name == name]
        run = max(runs, key=lambda r: r.id)
        output = {"title": run.output.title, "summary": run.output.summary}
        if run.output.text:
            output["text"] = run.output.text
        return {"app_id": run.app.id, "conclusion": run.conclusion, "output": output}

    def can_read(self, credentials: GitCredentials) -> bool:
        token = credentials.password.get_secret_value()
        answer = LOCAL.get(
            f"{self.sandbox.base_url}/repos/{self.sandbox.repo_name}",
            headers={"Authorization": f"token {token}"},
        )
        return answer.status_code == 200

    def clear_requests(self) -> None:
        self.sandbox.clear_requests()

    def repository_requests(self) -> list[str]:
        found = self.sandbox.requests()
        return [f"{r['method']} {r['path']}" for r in found if "/repos/" in r["path"]]


def sandbox_seed(setup: SiteSetup, receiver: str, content: Path, key_file: Path) -> dict[str, Any]:
    """The sandbox's default seed, changed as `setup` says."""
    seed = default_seed(receiver, content, key_file, app_token_ttl=setup.installation_token_ttl)
    seed["apps"][0]["permissions"] = setup.app_permissions()
    repository = seed["repositories"][0]
    if not setup.drafts_allowed:
        repository["private"] = True
        seed["orgs"][0]["plan"] = "free"
    if setup.team_without_access is not None:
        slug = setup.team_without_access
        seed["teams"].append({"org": ORG, "slug": slug, "name": slug.title(), "members": ["bob"]})
    rules = setup.protection
    assert rules.blocked is None, "the sandbox blocks merges by real rules only"
    protection: dict[str, Any] = {}
    if rules.required_approvals is not None:
        protection["required_pull_request_reviews"] = {
            "required_approving_review_count": rules.required_approvals
        }
    if rules.required_checks or rules.strict:
        protection["required_status_checks"] = {
            "strict": rules.strict,
            "checks": [{"context": c, "app_id": app} for c, app in rules.required_checks],
        }
    if protection:
        repository["branch_protection"] = {"main": protection}
    return seed


@contextmanager
def sandbox_site(
    folder: Path, setup: SiteSetup, rest: RestContract, webhooks: WebhookContract
) -> Iterator[Site]:
    """A sandbox GitHub on the default seed, changed as `setup` says, with `GitHubForge`s."""
    with ExitStack() as stack:
        receiver = WebhookReceiver()
        stack.callback(receiver.close)
        content = write_content(folder / "content", setup.content or DEFAULT_CONTENT)
        key_file = folder / "app.pem"
        key_file.write_text(app_key_pem())
        seed = sandbox_seed(setup, receiver.url, content, key_file)
        checks = make_checks(rest, webhooks)
        sandbox = stack.enter_context(start_github_sandbox(folder, checks, seed=seed))
        sandbox.receiver = receiver
        built: list[GitHubForge] = []

        def build(settings: GitHubSettings) -> Forge:
            forge = GitHubForge(settings)
            built.append(forge)
            return forge

        def app_forge(**overrides: Any) -> Forge:
            return build(app_settings(sandbox, **overrides))

        def token_forge(login: str, **overrides: Any) -> Forge:
            return build(token_settings(sandbox, login, **overrides))

        try:
            yield Site(
                "sandbox", app_forge(), SandboxPeople(sandbox), app_forge, token_forge, sandbox
            )
        finally:
            for forge in built:
                forge.close()


@contextmanager
def open_site(
    kind: ForgeKind,
    folder: Path,
    setup: SiteSetup | None = None,
    *,
    contracts: Callable[[], tuple[RestContract, WebhookContract]] | None = None,
) -> Iterator[Site]:
    """A site of `kind`; the sandbox needs `contracts` (its REST and webhook checks)."""
    if kind == "memory":
        yield memory_site(setup or SiteSetup())
        return
    assert contracts is not None, "the sandbox checks its answers against GitHub's descriptions"
    folder.mkdir(parents=True, exist_ok=True)
    with sandbox_site(folder, setup or SiteSetup(), *contracts()) as site:
        yield site
