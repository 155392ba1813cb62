"""What the scoring server serves, persisted so a restarted server serves it again."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import UserInputError

STATE_FILE = "serving-state.json"


class _FileModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class StoredVersion(_FileModel):
    """One loaded version and where its artifacts were copied."""

    version: str = Field(description="Registry version.")
    uri: str = Field(description="Model URI it was loaded from.")
    tracking_uri: str | None = Field(default=None, description="Tracking URI that resolved it.")
    local_path: str = Field(description="Its artifacts, relative to the state directory.")
    share: int = Field(ge=0, le=100, description="Percentage of traffic it receives.")


class StoredEndpoint(_FileModel):
    """The versions of one (model, environment)."""

    model: str = Field(description="Model name.")
    environment: str = Field(description="Environment.")
    versions: tuple[StoredVersion, ...] = Field(description="Loaded versions, serving or idle.")


class StoredState(_FileModel):
    """`<state dir>/serving-state.json`."""

    api_version: Literal["promobot/v1"] = Field(
        default="promobot/v1", alias="apiVersion", description="Format version."
    )
    kind: Literal["ServingState"] = Field(default="ServingState", description="File kind.")
    endpoints: tuple[StoredEndpoint, ...] = Field(
        default=(), description="Every (model, environment) the server serves."
    )


def read_state(directory: Path) -> StoredState:
    """The stored state, or an empty one when the directory holds none yet."""
    path = directory / STATE_FILE
    if not path.exists():
        return StoredState()
    try:
        return StoredState.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise UserInputError(
            f"{path}: cannot read the scoring server's state: {exc}",
            hint="fix or delete the file (the server then starts empty) and apply again",
        ) from exc


def write_state(directory: Path, state: StoredState) -> None:
    """Replace the state file atomically, so a crash never leaves half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    text = state.model_dump_json(by_alias=True, indent=2)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".state-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, directory / STATE_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
