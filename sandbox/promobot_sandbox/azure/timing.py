"""The sandbox's clock and how long Azure's operations take on it.

Azure's long-running operations take minutes: creating a managed online deployment
"can take approximately 8-14 minutes depending on whether the underlying
environment/image is being built for the first time"
(https://learn.microsoft.com/azure/machine-learning/how-to-access-resources-from-endpoints-managed-identities).
The sandbox keeps its own clock, which runs `factor` times faster than the wall
clock, so realistic durations pass in a fraction of a second and every timestamp
the sandbox writes (operations, `systemData`, token expiry, pipeline runs) stays
consistent with them.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OperationKind = Literal[
    "endpoint_create",
    "endpoint_update",
    "endpoint_delete",
    "deployment_create",
    "deployment_update",
    "deployment_delete",
]


class OperationDurations(BaseModel):
    """Seconds (of sandbox time) each kind of operation stays in progress.

    A kind left unset takes the config's `operation_seconds`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_create: float | None = Field(default=None, ge=0, description="Endpoint PUT (new).")
    endpoint_update: float | None = Field(
        default=None, ge=0, description="Endpoint PUT or PATCH of an existing endpoint."
    )
    endpoint_delete: float | None = Field(default=None, ge=0, description="Endpoint DELETE.")
    deployment_create: float | None = Field(
        default=None, ge=0, description="Deployment PUT (new): provisioning the instances."
    )
    deployment_update: float | None = Field(
        default=None, ge=0, description="Deployment PUT or PATCH of an existing deployment."
    )
    deployment_delete: float | None = Field(default=None, ge=0, description="Deployment DELETE.")

    @classmethod
    def realistic(cls) -> OperationDurations:
        """Durations as Azure ML shows them: a deployment in the documented 8-14 minutes,
        an endpoint or a traffic change in a minute or two."""
        return cls(
            endpoint_create=120.0,
            endpoint_update=60.0,
            endpoint_delete=120.0,
            deployment_create=600.0,
            deployment_update=600.0,
            deployment_delete=180.0,
        )


class SandboxClock:
    """Sandbox time in epoch seconds, `factor` times faster than the wall clock.

    It starts at the wall clock's time, or later when `resume_at` (the last time a
    previous run of the sandbox recorded) is ahead, so sandbox time never runs back.
    """

    def __init__(self, factor: float = 1.0, resume_at: float = 0.0) -> None:
        self.factor = factor
        self._origin = max(time.time(), resume_at)
        self._started = time.monotonic()

    def now(self) -> float:
        """The current sandbox time."""
        return self._origin + (time.monotonic() - self._started) * self.factor

    def iso(self, at: float | None = None) -> str:
        """ISO 8601 UTC with milliseconds, as ARM writes timestamps."""
        moment = dt.datetime.fromtimestamp(self.now() if at is None else at, dt.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def wall_seconds(self, sandbox_seconds: float) -> float:
        """How long `sandbox_seconds` of sandbox time last on the wall clock."""
        return sandbox_seconds / self.factor


def dotnet_utc(at: float) -> str:
    """A UTC time the way Azure's .NET services print it: `6/19/2018 2:36:01 PM`."""
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {half}"
