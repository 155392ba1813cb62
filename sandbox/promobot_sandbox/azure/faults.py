"""Fault injection and the request log, under `/_sandbox/` (not Azure's namespace).

Four kinds of faults:
- `http`: answer matching requests with a status (429 or 5xx, optionally with
  `Retry-After`) instead of serving them;
- `provisioning`: a matching deployment fails to provision, with a message;
- `scoring`: invocations routed to a matching deployment fail with a status;
- `pipeline`: the next matching Azure DevOps run ends `failed` or `canceled`, or takes
  longer than usual.
Each fault fires `count` times, then disappears.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(default=1, ge=1, description="How many times the fault fires.")


class HttpFault(_Fault):
    """Answer matching requests with an error instead of serving them."""

    kind: Literal["http"] = Field(description="Discriminator.")
    method: str | None = Field(default=None, description="HTTP method to match; any when None.")
    path: str = Field(description="Regular expression searched in the request path.")
    status: int = Field(ge=400, le=599, description="Status to answer, e.g. 429 or 503.")
    retry_after: float | None = Field(
        default=None, ge=0, description="Seconds sent in `Retry-After`, when set."
    )
    message: str = Field(default="Injected fault.", description="Error message in the body.")

    def matches(self, method: str, path: str) -> bool:
        """Whether the fault applies to this request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


class ProvisioningFault(_Fault):
    """Make matching deployments fail to provision."""

    kind: Literal["provisioning"] = Field(description="Discriminator.")
    deployment: str = Field(default=".*", description="Regex matched against deployment names.")
    message: str = Field(
        default="User container has crashed or terminated: liveness probe failed.",
        description="The error Azure reports for the failed operation.",
    )


class ScoringFault(_Fault):
    """Make invocations routed to matching deployments fail."""

    kind: Literal["scoring"] = Field(description="Discriminator.")
    deployment: str = Field(default=".*", description="Regex matched against deployment names.")
    status: int = Field(default=500, ge=400, le=599, description="Status of the failed call.")


class PipelineFault(_Fault):
    """Shape the next matching pipeline runs: how they end and how long they take."""

    kind: Literal["pipeline"] = Field(description="Discriminator.")
    pipeline_id: int | None = Field(default=None, description="Pipeline to match; any when None.")
    result: Literal["succeeded", "failed", "canceled"] = Field(
        default="failed", description="Run result."
    )
    seconds: float | None = Field(
        default=None, ge=0, description="How long the run stays in progress; default as configured."
    )


Fault = Annotated[
    HttpFault | ProvisioningFault | ScoringFault | PipelineFault, Field(discriminator="kind")
]


class FaultRequest(BaseModel):
    """Body of `POST /_sandbox/faults`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault: Fault = Field(description="The fault to inject.")


class FaultBook:
    """Active faults; each `take_*` consumes one firing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [fault, remaining count]

    def add(self, fault: HttpFault | ProvisioningFault | ScoringFault | PipelineFault) -> None:
        """Activate a fault."""
        with self._lock:
            self._faults.append([fault, fault.count])

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        """The faults with their remaining counts."""
        with self._lock:
            return [{**f.model_dump(), "remaining": n} for f, n in self._faults]

    def _take(self, predicate: Any) -> Any:
        with self._lock:
            for entry in self._faults:
                if predicate(entry[0]):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._faults.remove(entry)
                    return entry[0]
        return None

    def take_http(self, method: str, path: str) -> HttpFault | None:
        """The HTTP fault for this request, if one fires."""
        fault: HttpFault | None = self._take(
            lambda f: isinstance(f, HttpFault) and f.matches(method, path)
        )
        return fault

    def take_provisioning(self, deployment: str) -> ProvisioningFault | None:
        """The provisioning fault for this deployment, if one fires."""
        fault: ProvisioningFault | None = self._take(
            lambda f: isinstance(f, ProvisioningFault) and re.fullmatch(f.deployment, deployment)
        )
        return fault

    def take_scoring(self, deployment: str) -> ScoringFault | None:
        """The scoring fault for this deployment, if one fires."""
        fault: ScoringFault | None = self._take(
            lambda f: isinstance(f, ScoringFault) and re.fullmatch(f.deployment, deployment)
        )
        return fault

    def take_pipeline(self, pipeline_id: int) -> PipelineFault | None:
        """The pipeline fault for this run, if one fires."""
        fault: PipelineFault | None = self._take(
            lambda f: isinstance(f, PipelineFault) and f.pipeline_id in (None, pipeline_id)
        )
        return fault


class RequestLog:
    """Every request the sandbox answered: method, path, status and time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(self, method: str, path: str, status: int) -> None:
        """Append one request."""
        with self._lock:
            self._entries.append(
                {"method": method, "path": path, "status": status, "time": time.time()}
            )

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the log."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._entries.clear()
