"""Session data built once per test run, whatever the number of xdist workers.

A session fixture runs once in every worker: three workers trained the same models and
logged them to MLflow three times. `built_once` builds a folder in the first worker that
asks (the others wait on a lock), in the run's temporary root that every worker shares;
`own_copy` gives a worker its own copy of an MLflow database, so what one worker's tests
write (aliases set by `promobot apply`) is never seen by another's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

BUILT = ".built"


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The folder `build` filled, built by the first worker of this run that asks for it.
    A build that raised leaves no mark, so the next worker that asks tries again."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # pytest-of-<user>/pytest-<n>/, above each worker's popen-gw<i>/
    folder = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / BUILT).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / BUILT).touch()
    return folder


def own_copy(tmp_path_factory: pytest.TempPathFactory, database: Path) -> str:
    """A copy of the SQLite MLflow database `database` for this worker: its tracking URI.
    The artifacts stay where they were logged; tests only read them."""
    copy = tmp_path_factory.mktemp("mlflow-copy") / database.name
    shutil.copyfile(database, copy)
    return f"sqlite:///{copy}"
