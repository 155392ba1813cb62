"""The last applied commit per branch, kept in `.git/promobot/last-applied` (never committed).

The marker lives inside the git folder of the checkout CD runs in, so it is
never part of the branch it describes and no commit is needed to move it. A
lock file beside it keeps two `promobot apply` runs on one checkout apart.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import UserInputError

STATE_DIR = "promobot"
MARKER_FILE = "last-applied"
LOCK_FILE = "apply.lock"


class AppliedCommit(BaseModel):
    """The commit a branch was last fully applied at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commit: str = Field(pattern=r"^[0-9a-f]{40}$", description="Full SHA of the applied commit.")
    applied_at: dt.datetime = Field(description="When the apply that reached it finished (UTC).")


class AppliedMarkers(BaseModel):
    """Contents of `.git/promobot/last-applied`: one entry per branch CD applies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    branches: dict[str, AppliedCommit] = Field(
        default_factory=dict, description="Branch (as given to `--branch`) -> last applied commit."
    )


def marker_path(git_dir: Path) -> Path:
    """Where the markers of the repository with this git folder live."""
    return git_dir / STATE_DIR / MARKER_FILE


def read_markers(git_dir: Path) -> AppliedMarkers:
    """Every branch's marker; empty when no apply has finished yet."""
    path = marker_path(git_dir)
    if not path.is_file():
        return AppliedMarkers()
    try:
        return AppliedMarkers.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise UserInputError(
            f"{path} is damaged: {exc.errors()[0]['msg']}",
            hint="delete the file and run `promobot apply --since <last good commit>`",
        ) from exc


def read_marker(git_dir: Path, branch: str) -> str | None:
    """The commit `branch` was last applied at, or None."""
    entry = read_markers(git_dir).branches.get(branch)
    return entry.commit if entry else None


def write_marker(git_dir: Path, branch: str, commit: str, now: dt.datetime) -> None:
    """Record `commit` as applied for `branch`, atomically (a reader never sees half a file)."""
    path = marker_path(git_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    markers = read_markers(git_dir)
    entry = AppliedCommit(commit=commit, applied_at=now)
    updated = AppliedMarkers(branches={**markers.branches, branch: entry})
    scratch = path.with_suffix(".tmp")
    scratch.write_text(updated.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, path)


@contextmanager
def apply_lock(git_dir: Path) -> Iterator[None]:
    """Hold the checkout's apply lock; a second apply waits until the first one is done."""
    path = git_dir / STATE_DIR / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
