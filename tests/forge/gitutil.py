"""Plain git on the sandbox's bare repositories: what is really on a branch."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str, cwd: Path | None = None, git_dir: Path | None = None) -> str:
    """Run git and return its stdout; fail the test with git's stderr."""
    prefix = ["git", f"--git-dir={git_dir}"] if git_dir is not None else ["git"]
    done = subprocess.run(
        [*prefix, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def commits_on(bare: Path, branch: str, base: str = "main") -> list[str]:
    """Commits on `branch` that `base` does not have, newest first."""
    return git("rev-list", f"{base}..{branch}", git_dir=bare).split()


def file_at(bare: Path, ref: str, path: str) -> str:
    """A file's text at `ref`."""
    return git("show", f"{ref}:{path}", git_dir=bare)


def head_of(bare: Path, branch: str) -> str:
    """The commit at the tip of `branch`."""
    return git("rev-parse", f"refs/heads/{branch}", git_dir=bare).strip()
