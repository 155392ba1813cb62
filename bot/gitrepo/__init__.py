"""Local git access for CD: manifests at a commit, changes, logs, and the last applied commit."""

from bot.gitrepo.marker import apply_lock, read_marker, write_marker
from bot.gitrepo.repo import ChangedFile, ChangeKind, CommitRecord, GitRepo

__all__ = [
    "ChangeKind",
    "ChangedFile",
    "CommitRecord",
    "GitRepo",
    "apply_lock",
    "read_marker",
    "write_marker",
]
