"""A tiny git in memory for the in-memory forge: blobs, trees and commits hashed exactly as
git hashes them, branches, and the graph questions GitHub answers (merge base, the commits
a branch adds, the paths a comparison changes, three-way merges).

A commit holds its whole tree as `path -> text`; repositories in tests hold a handful of
small files, so nothing is shared between trees.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Files = Mapping[str, str]
FILE_MODE = b"100644"
TREE_MODE = b"40000"


@dataclass(frozen=True)
class Person:
    """A git identity, and the account GitHub credits it to (None when no account has the
    address)."""

    name: str
    email: str
    login: str | None = None


@dataclass(frozen=True)
class Commit:
    """A commit object and its whole tree."""

    sha: str
    tree: str
    files: Files
    parents: tuple[str, ...]
    message: str
    author: Person
    committer: Person
    verified: bool
    time: dt.datetime


def blob_sha(text: str) -> str:
    """`git hash-object` of a file's text."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def tree_sha(files: Files) -> str:
    """The SHA of the root tree holding `files` (nested trees for folders, as git writes)."""
    return _tree(dict(files.items()))


def _tree(files: dict[str, str]) -> str:
    blobs: dict[str, str] = {}
    folders: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        head, slash, rest = path.partition("/")
        if slash:
            folders.setdefault(head, {})[rest] = text
        else:
            blobs[head] = text
    entries = [(name, FILE_MODE, blob_sha(text)) for name, text in blobs.items()]
    entries += [(name, TREE_MODE, _tree(inner)) for name, inner in folders.items()]
    # git orders a folder as if its name ended with a slash.
    entries.sort(key=lambda entry: entry[0] + ("/" if entry[1] == TREE_MODE else ""))
    body = b"".join(
        mode + b" " + name.encode() + b"\0" + bytes.fromhex(sha) for name, mode, sha in entries
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


def changed_paths(before: Files, after: Files) -> dict[str, str | None]:
    """path -> new text (None when deleted) for every path whose content differs."""
    paths = set(before) | set(after)
    return {p: after.get(p) for p in sorted(paths) if before.get(p) != after.get(p)}


def apply_changes(files: Files, changes: Mapping[str, str | None]) -> dict[str, str]:
    """`files` with `changes` applied (None deletes a path)."""
    result = dict(files.items())
    for path, text in changes.items():
        if text is None:
            result.pop(path, None)
        else:
            result[path] = text
    return result


def three_way(base: Files, ours: Files, theirs: Files) -> dict[str, str] | None:
    """Merge two descendants of `base` path by path; None when both changed one path
    differently (git would also merge edits of distinct lines of one file; tests do not
    need that)."""
    merged: dict[str, str] = {}
    for path in sorted(set(base) | set(ours) | set(theirs)):
        old, mine, other = base.get(path), ours.get(path), theirs.get(path)
        if mine == other or other == old:
            chosen = mine
        elif mine == old:
            chosen = other
        else:
            return None
        if chosen is not None:
            merged[path] = chosen
    return merged


@dataclass
class MemoryGit:
    """Commits by SHA and branches by name; `clock` dates commits (to the second, as git
    does: the same commit made twice within a second is one object)."""

    clock: Callable[[], dt.datetime]
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def commit(
        self,
        files: Files,
        parents: tuple[str, ...],
        message: str,
        author: Person,
        committer: Person | None = None,
        *,
        verified: bool = False,
    ) -> Commit:
        """Write a commit object (the branch does not move)."""
        by = committer or author
        tree = tree_sha(files)
        stamp = int(self.clock().timestamp())
        header = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        header.append(f"author {author.name} <{author.email}> {stamp} +0000")
        header.append(f"committer {by.name} <{by.email}> {stamp} +0000")
        body = ("\n".join(header) + "\n\n" + message).encode()
        sha = hashlib.sha1(b"commit %d\0" % len(body) + body, usedforsecurity=False).hexdigest()
        frozen = MappingProxyType(dict(files.items()))
        time = dt.datetime.fromtimestamp(stamp, dt.UTC)
        made = Commit(sha, tree, frozen, parents, message, author, by, verified, time)
        self.commits[sha] = made
        return made

    def resolve(self, ref: str) -> str | None:
        """The commit a branch name, `refs/heads/<name>` or a full SHA names; None if none."""
        name = ref.removeprefix("refs/heads/")
        if name in self.branches:
            return self.branches[name]
        return ref if ref in self.commits else None

    def files_at(self, ref: str) -> Files | None:
        """The tree of a branch or commit; None when there is no such ref."""
        sha = self.resolve(ref)
        return None if sha is None else self.commits[sha].files

    def ancestors(self, sha: str) -> set[str]:
        """`sha` and every commit it descends from."""
        seen: set[str] = set()
        pending = [sha]
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(self.commits[current].parents)
        return seen

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when `older` is `newer` or one of its ancestors."""
        return older in self.ancestors(newer)

    def merge_base(self, one: str, other: str) -> str | None:
        """A best common ancestor: one no other common ancestor descends from."""
        common = self.ancestors(one) & self.ancestors(other)
        best = [c for c in common if not any(c in self.ancestors(o) - {o} for o in common)]
        return min(best) if best else None

    def added_commits(self, base: str | None, head: str) -> list[str]:
        """`git rev-list base..head`: commits `head` has and `base` lacks (all of its history
        when `base` is None), newest first."""
        missing = self.ancestors(head) - (set() if base is None else self.ancestors(base))
        order: list[str] = []
        pending = [head]
        while pending:
            current = pending.pop(0)
            if current in missing and current not in order:
                order.append(current)
                pending.extend(self.commits[current].parents)
        return order

    def comparison(self, base: str, head: str) -> dict[str, str | None]:
        """What `head` changes against its merge base with `base` (GitHub's three dots)."""
        fork = self.merge_base(base, head) or base
        return changed_paths(self.commits[fork].files, self.commits[head].files)

    def merged_files(self, base: str, head: str) -> dict[str, str] | None:
        """The tree of merging `head` into `base`; None on a conflict."""
        fork = self.merge_base(base, head)
        before = self.commits[fork].files if fork is not None else {}
        return three_way(before, self.commits[base].files, self.commits[head].files)
