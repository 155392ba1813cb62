"""The board's own bare copy of the GitOps repository, fetched before each read.

Manifests, policies, decision records and the history all come from git, so a board view
needs no REST request for them. The mirror fetches every branch (the bot's promotion
branches carry the records of open and refused promotions) and, where the forge publishes
them as GitHub does, every pull request's head (`refs/pull/N/head`, closed ones included):
https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/checking-out-pull-requests-locally
Its reflog keeps the heads a promotion branch had before it was rebuilt, so a refused
version stays visible after a newer one replaced it. Over HTTPS the forge's credentials
(an App's installation token) are handed to each fetch, never written down
(`bot.forge.gitauth`).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import git

from bot.errors import UserInputError
from bot.forge.base import GitCredentials
from bot.forge.gitauth import git_auth
from bot.gitrepo import GitRepo

FETCH_TIMEOUT_SECONDS = 120.0
REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/pull/*/head:refs/pull/*/head")
Credentials = Callable[[], GitCredentials | None]


class GitMirror:
    """A bare repository at `path` that mirrors `url`; one reader at a time."""

    def __init__(self, path: Path, url: str, credentials: Credentials) -> None:
        self.path = path
        self.url = url
        self._credentials = credentials
        self._lock = threading.RLock()
        self._repo: GitRepo | None = None
        self._git: git.Repo | None = None
        self.branch: str | None = None

    def refresh(self) -> None:
        """Fetch what changed since the last fetch (the first one copies everything)."""
        with self._lock:
            if self._git is None:
                self._git = _bare(self.path)
            if self.branch is None:
                self.branch = self._default_branch()
                self._git.git.symbolic_ref("HEAD", f"refs/heads/{self.branch}")
            self._run("fetch", "--prune", "--quiet", "--no-tags", self.url, *REFSPECS)

    @contextmanager
    def reading(self) -> Iterator[GitRepo]:
        """The mirror to read from, while no fetch or other reader runs."""
        with self._lock:
            if self._repo is None:
                self._repo = GitRepo(self.path)
            yield self._repo

    def refs(self, prefix: str) -> dict[str, str]:
        """Ref name -> commit of every ref under `prefix` (`refs/heads/promobot/`)."""
        with self._lock:
            output = self._require().git.for_each_ref("--format=%(refname) %(objectname)", prefix)
        found: dict[str, str] = {}
        for line in str(output).splitlines():
            name, _, sha = line.partition(" ")
            if name and sha:
                found[name] = sha
        return found

    def earlier_heads(self, ref: str, limit: int = 20) -> list[str]:
        """Commits `ref` pointed at before, newest first, as far as the mirror saw them."""
        with self._lock:
            try:
                output = self._require().git.log("-g", f"--max-count={limit}", "--format=%H", ref)
            except git.GitCommandError:
                return []
        return list(dict.fromkeys(line for line in str(output).split() if line))

    def message(self, sha: str) -> str:
        """The full message of commit `sha`."""
        with self._lock:
            return str(self._require().commit(sha).message)

    def changed_paths(self, base: str, head: str) -> tuple[str, ...]:
        """Paths `head` changes since it left `base` (what its pull request shows)."""
        with self._lock:
            repo = self._require()
            try:
                fork = repo.git.merge_base(base, head)
                names = repo.git.diff("--name-only", "--no-renames", "-z", fork, head)
            except git.GitCommandError:
                return ()
        return tuple(name for name in str(names).split("\0") if name)

    def has_commit(self, sha: str) -> bool:
        """Whether the mirror holds commit `sha` (a push may be newer than the last fetch)."""
        with self.reading() as repo:
            return repo.has_commit(sha)

    def close(self) -> None:
        """Stop git's helper processes."""
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None
            if self._git is not None:
                self._git.close()
                self._git = None

    def _require(self) -> git.Repo:
        if self._git is None:
            self._git = _bare(self.path)
        return self._git

    def _default_branch(self) -> str:
        output = self._run("ls-remote", "--symref", self.url, "HEAD")
        for line in output.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
        return "main"

    def _run(self, *args: str) -> str:
        credentials = self._credentials() if self.url.startswith("https://") else None
        command = ["git", "-C", str(self.path), *args]
        # Nobody is there to answer a prompt: git and ssh fail instead of waiting for one.
        environment = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        }
        if credentials is not None:
            auth = git_auth(credentials)
            command = auth.command("-C", str(self.path), *args)
            environment = auth.env(environment)
        try:
            done = subprocess.run(
                command,
                env=environment,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=FETCH_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UserInputError(
                f"git {args[0]} of the board's mirror took over {FETCH_TIMEOUT_SECONDS:.0f} s",
                hint="check that the repository is reachable from the bot",
            ) from None
        if done.returncode != 0:
            raise UserInputError(
                f"git {args[0]} of the board's mirror failed: {done.stderr.strip()[-300:]}",
                hint="set PROMOBOT_BOARD_GIT_URL to a URL of the repository the bot may fetch",
            )
        return done.stdout


def _bare(path: Path) -> git.Repo:
    """The bare repository at `path`, made on first use, with a reflog for every ref."""
    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(path, bare=True)
        with repo.config_writer() as config:
            config.set_value("core", "logAllRefUpdates", "always")
        return repo
    return git.Repo(path)
