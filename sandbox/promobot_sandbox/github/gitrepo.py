"""Bare git repositories on disk, driven through the git command line.

The sandbox never keeps a working tree: objects are written with plumbing commands
(`hash-object`, `update-index` on a temporary index, `write-tree`, `commit-tree`,
`update-ref`), which is what GitHub's Git Data API exposes too.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ZERO_SHA = "0" * 40


class GitError(Exception):
    """A git command failed; the message carries git's own explanation."""


@dataclass(frozen=True)
class Person:
    """An author or committer line of a commit."""

    name: str
    email: str
    date: str  # ISO 8601, e.g. 2024-01-02T03:04:05Z


@dataclass(frozen=True)
class CommitInfo:
    """A parsed commit object."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TreeEntry:
    """One line of `git ls-tree -l`."""

    mode: str
    type: str
    sha: str
    path: str
    size: int | None


@dataclass(frozen=True)
class FileChange:
    """One file of a diff between two commits."""

    filename: str
    status: str
    additions: int
    deletions: int
    sha: str
    patch: str
    previous_filename: str | None


_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


class GitRepo:
    """One bare repository. Methods are thin wrappers over git plumbing."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, "GIT_DIR": str(self.path), **(env or {})}
        result = subprocess.run(
            ["git", *args], input=stdin, capture_output=True, env=full_env, check=False
        )
        if check and result.returncode != 0:
            raise GitError(
                f"git {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}"
            )
        return result

    def text(
        self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        return self.run(*args, stdin=stdin, env=env).stdout.decode().strip()

    # --- objects -------------------------------------------------------------------------

    def init(self, default_branch: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "git",
                "init",
                "--quiet",
                "--bare",
                f"--initial-branch={default_branch}",
                str(self.path),
            ],
            check=True,
            capture_output=True,
        )

    def write_blob(self, content: bytes) -> str:
        return self.text("hash-object", "-w", "--stdin", stdin=content)

    def object_type(self, sha: str) -> str | None:
        result = self.run("cat-file", "-t", sha, check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def read_blob(self, sha: str) -> bytes:
        return self.run("cat-file", "blob", sha).stdout

    def write_tree(self, entries: list[tuple[str, str | None, str]], base_tree: str | None) -> str:
        """Entries are (mode, sha or None to delete, path); paths may be nested."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base_tree is not None:
                self.run("read-tree", base_tree, env=env)
            lines = []
            for mode, sha, path in entries:
                if sha is None:
                    lines.append(f"0 {ZERO_SHA}\t{path}")
                elif mode == "040000":
                    self.run("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", path, env=env)
                    self.run("read-tree", f"--prefix={path}/", sha, env=env)
                else:
                    lines.append(f"{mode} {sha}\t{path}")
            if lines:
                self.run(
                    "update-index",
                    "--index-info",
                    stdin=("\n".join(lines) + "\n").encode(),
                    env=env,
                )
            return self.text("write-tree", env=env)

    def import_folder(self, folder: Path) -> str:
        """A tree holding every file under `folder` (the seed's initial content)."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": str(folder)}
            self.run("add", "--all", "--force", ".", env=env)
            return self.text("write-tree", env=env)

    def list_tree(self, tree: str, *, recursive: bool = False, path: str = "") -> list[TreeEntry]:
        args = ["ls-tree", "-l", "-z"]
        if recursive:
            args += ["-r", "-t"]
        args.append(tree if not path else f"{tree}:{path}")
        out = self.run(*args).stdout.decode()
        entries = []
        for line in filter(None, out.split("\0")):
            meta, name = line.split("\t", 1)
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, name, None if size == "-" else int(size)))
        return entries

    def resolve_path(self, commit: str, path: str) -> tuple[str, str] | None:
        """(type, sha) of `path` in `commit`, or None when it does not exist."""
        result = self.run("rev-parse", "--verify", "-q", f"{commit}:{path}", check=False)
        if result.returncode != 0:
            return None
        sha = result.stdout.decode().strip()
        kind = self.object_type(sha)
        return None if kind is None else (kind, sha)

    def write_commit(
        self, tree: str, parents: list[str], message: str, author: Person, committer: Person
    ) -> str:
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": author.date,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": committer.date,
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.text(*args, "-F", "-", stdin=message.encode(), env=env)

    def raw_commit(self, sha: str) -> str:
        """The commit object's text: what a signature signs."""
        return self.run("cat-file", "commit", sha).stdout.decode(errors="replace")

    def read_commit(self, sha: str) -> CommitInfo:
        raw = self.run("cat-file", "commit", sha).stdout.decode(errors="replace")
        header, _, message = raw.partition("\n\n")
        tree, parents, people = "", [], {}
        for line in header.splitlines():
            field, _, value = line.partition(" ")
            if field == "tree":
                tree = value
            elif field == "parent":
                parents.append(value)
            elif field in ("author", "committer"):
                people[field] = _parse_person(value)
        return CommitInfo(sha, tree, tuple(parents), people["author"], people["committer"], message)

    # --- refs ----------------------------------------------------------------------------

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(refname, sha, object type) of every ref under `prefix`."""
        out = self.text("for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", prefix)
        return [tuple(line.split(" ")) for line in out.splitlines() if line]  # type: ignore[misc]

    def resolve(self, rev: str) -> str | None:
        result = self.run("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def ref_sha(self, ref: str) -> str | None:
        result = self.run("rev-parse", "--verify", "-q", ref, check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        """Move `ref`; with `old`, only when it still points there (compare and swap)."""
        args = ["update-ref", ref, new]
        if old is not None:
            args.append(old)
        self.run(*args)

    def delete_ref(self, ref: str) -> None:
        self.run("update-ref", "-d", ref)

    # --- history -------------------------------------------------------------------------

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return (
            self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode
            == 0
        )

    def merge_base(self, a: str, b: str) -> str | None:
        result = self.run("merge-base", a, b, check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def rev_list(self, *revs: str, path: str | None = None, limit: int | None = None) -> list[str]:
        args = ["rev-list", *([f"--max-count={limit}"] if limit else []), *revs]
        if path:
            args += ["--", path]
        return self.text(*args).split()

    def merged_tree(self, base: str, head: str) -> str | None:
        """The tree of merging `head` into `base`, or None when they conflict."""
        result = self.run("merge-tree", "--write-tree", base, head, check=False)
        if result.returncode != 0:
            return None
        return result.stdout.decode().split()[0]

    def rebased(self, onto: str, commits: list[str], committer: Person) -> str | None:
        """Replay `commits` (oldest first) on `onto`; the new tip, or None on a conflict."""
        tip = onto
        for sha in commits:
            info = self.read_commit(sha)
            parent = info.parents[0] if info.parents else None
            with tempfile.TemporaryDirectory() as tmp:
                env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
                self.run("read-tree", tip, env=env)
                diff = self.run(
                    "diff", "--binary", "--full-index", parent or _EMPTY_TREE, sha
                ).stdout
                applied = self.run("apply", "--cached", "-", stdin=diff, env=env, check=False)
                if applied.returncode != 0:
                    return None
                tree = self.text("write-tree", env=env)
            tip = self.write_commit(tree, [tip], info.message, info.author, committer)
        return tip

    def diff(self, base: str, head: str) -> list[FileChange]:
        """Files changed from `base` to `head`, with numstat counts and the patch text."""
        raw = self.run("diff", "--raw", "-M", "-z", "--no-abbrev", base, head).stdout.decode()
        numstat = self.run("diff", "--numstat", "-M", "-z", base, head).stdout.decode()
        counts = _parse_numstat(numstat)
        changes = []
        fields = raw.split("\0")
        index = 0
        while index < len(fields) and fields[index].startswith(":"):
            meta = fields[index][1:].split()
            status = meta[4][0]
            old_path = fields[index + 1]
            new_path = fields[index + 2] if status in "RC" else old_path
            index += 3 if status in "RC" else 2
            patch = self.run(
                "diff", base, head, "--", new_path, *([old_path] if status == "R" else [])
            )
            adds, dels = counts.get(new_path, (0, 0))
            changes.append(
                FileChange(
                    filename=new_path,
                    status=_STATUS.get(status, "modified"),
                    additions=adds,
                    deletions=dels,
                    sha=meta[3] if status != "D" else meta[2],
                    patch=_hunks(patch.stdout.decode(errors="replace")),
                    previous_filename=old_path if status == "R" else None,
                )
            )
        return changes


_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _parse_person(value: str) -> Person:
    name, _, rest = value.partition(" <")
    email, _, stamp = rest.partition("> ")
    seconds, _, _offset = stamp.partition(" ")
    date = datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Person(name=name, email=email, date=date)


def _parse_numstat(out: str) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    fields = out.split("\0")
    index = 0
    while index < len(fields) and fields[index]:
        adds, dels, path = fields[index].split("\t", 2)
        if path == "":
            path = fields[index + 2]
            index += 3
        else:
            index += 1
        counts[path] = (int(adds) if adds != "-" else 0, int(dels) if dels != "-" else 0)
    return counts


def _hunks(patch: str) -> str:
    """The patch from its first hunk on, as GitHub's `patch` field shows it."""
    start = patch.find("\n@@")
    return patch[start + 1 :].rstrip("\n") if start >= 0 else ""
