"""A local git repository as CD reads it: files at a commit, changes between commits, a log.

Everything goes through GitPython. Blob reads use its persistent `git cat-file`
process, so reading a handful of manifests costs no process start each.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from bot.errors import UserInputError
from bot.formats.limits import git_entry_problem

_FIELD = "\x1f"
_RECORD = "\x1e"
_LOG_FORMAT = _RECORD + _FIELD.join(["%H", "%an", "%ae", "%aI", "%cI", "%P", "%B"]) + _FIELD


class ChangeKind(enum.StrEnum):
    """How a file differs between two commits."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


_STATUS = {"A": ChangeKind.ADDED, "D": ChangeKind.DELETED}
"""`git diff --name-status` letters; every other letter (M, T) is a modification."""


@dataclass(frozen=True)
class ChangedFile:
    """One path that differs between two commits."""

    path: str
    kind: ChangeKind


@dataclass(frozen=True)
class CommitRecord:
    """One commit of a log, with the paths (of those asked about) it touched."""

    sha: str
    author_name: str
    author_email: str
    authored_at: dt.datetime
    committed_at: dt.datetime
    parents: tuple[str, ...]
    message: str
    paths: tuple[str, ...]

    @property
    def subject(self) -> str:
        """First line of the message."""
        return self.message.split("\n", 1)[0].strip()


class GitRepo:
    """Read access to a local repository (a clone or a bare repository); close it when done."""

    def __init__(self, path: Path) -> None:
        try:
            self._repo = git.Repo(path, search_parent_directories=False)
        except (InvalidGitRepositoryError, NoSuchPathError) as exc:
            raise UserInputError(
                f"{path} is not a git repository",
                hint="pass --repo with the path of a clone of the GitOps repository",
            ) from exc
        self.path = path

    def close(self) -> None:
        """Stop the git processes GitPython keeps for this repository."""
        self._repo.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def git_dir(self) -> Path:
        """The repository's (common) `.git` folder: CD state lives there, never in a commit."""
        return Path(self._repo.common_dir)

    def resolve(self, rev: str) -> str:
        """The commit SHA `rev` (branch, tag, SHA) names, or a `UserInputError`."""
        try:
            return str(self._repo.commit(rev).hexsha)
        except (BadName, ValueError, GitCommandError) as exc:
            raise UserInputError(
                f"{rev!r} names no commit in {self.path}",
                hint="fetch the branch first (`git fetch`), or check the branch name or SHA",
            ) from exc

    def has_commit(self, sha: str) -> bool:
        """Whether `sha` is a commit this repository holds."""
        try:
            self._repo.commit(sha)
        except (BadName, ValueError, GitCommandError):
            return False
        return True

    def read_text(self, commit: str, path: str) -> str | None:
        """Text of `path` at `commit`, or None when the file does not exist there.

        Git carries symlinks and submodules, and files of any size: only a regular file
        within the size limit is read; anything else is a `UserInputError` saying why.
        """
        try:
            blob = self._repo.commit(commit).tree / path
        except KeyError:
            return None
        if blob.type == "tree":
            return None
        size = blob.size if blob.type == "blob" else None
        problem = git_entry_problem(path, blob.mode, size)
        if problem is not None:
            raise UserInputError(str(problem))
        data: bytes = blob.data_stream.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UserInputError(f"{path}: not UTF-8 text ({error.reason})") from None

    def list_files(self, commit: str, folder: str) -> list[str]:
        """Paths of every file under `folder` at `commit`, sorted; [] when the folder is absent."""
        try:
            tree = self._repo.commit(commit).tree / folder.rstrip("/")
        except KeyError:
            return []
        if tree.type != "tree":
            return []
        return sorted(str(item.path) for item in _blobs(tree))

    def changed_files(self, old: str, new: str, folder: str) -> list[ChangedFile]:
        """Files under `folder` whose content differs between two commits (trees compared)."""
        output: str = self._repo.git.diff(
            "--name-status", "--no-renames", "-z", old, new, "--", folder
        )
        fields = [f for f in output.split("\0") if f]
        changes = []
        for status, path in zip(fields[::2], fields[1::2], strict=True):
            changes.append(ChangedFile(path, _STATUS.get(status[0], ChangeKind.MODIFIED)))
        return changes

    def log(
        self,
        rev: str | None,
        paths: Sequence[str],
        *,
        glob: bool = False,
        limit: int | None = None,
    ) -> list[CommitRecord]:
        """Commits reachable from `rev` (None: from every branch and tag) that touch
        `paths`, newest first (at most `limit`)."""
        specs = [f":(glob){p}" for p in paths] if glob else list(paths)
        options = [f"--format={_LOG_FORMAT}", "--name-only", "--no-renames"]
        if limit is not None:
            options.append(f"--max-count={limit}")
        start = [rev] if rev is not None else ["--branches", "--remotes", "--tags"]
        output: str = self._repo.git.log(*options, *start, "--", *specs)
        return [_record(chunk) for chunk in output.split(_RECORD) if chunk.strip()]


def _blobs(tree: Any) -> Iterator[Any]:
    for item in tree.traverse():
        if item.type == "blob":
            yield item


def _record(chunk: str) -> CommitRecord:
    sha, name, email, authored, committed, parents, message, names = chunk.split(_FIELD)
    return CommitRecord(
        sha=sha,
        author_name=name,
        author_email=email,
        authored_at=dt.datetime.fromisoformat(authored),
        committed_at=dt.datetime.fromisoformat(committed),
        parents=tuple(parents.split()),
        message=message.strip(),
        paths=tuple(line.strip() for line in names.splitlines() if line.strip()),
    )
