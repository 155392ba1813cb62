"""Fault injection and the request log, under `/_sandbox/` (not Azure's namespace).

Seven kinds of faults:
- `http`: answer matching requests with a status (429 or 5xx, optionally with
  `Retry-After`) instead of serving them;
- `authorization`: answer matching Resource Manager requests (of one identity, or any)
  with 403 `AuthorizationFailed`, as when a role assignment is missing;
- `provisioning`: a matching deployment fails to provision, with a message;
- `scoring`: invocations routed to a matching deployment fail with a status;
- `frontend`: the scoring front end answers invocations of a matching endpoint with a
  plain-text 502, 503 or 504 before any deployment sees them;
- `hang`: the scoring front end holds invocations of a matching endpoint without
  answering, so the client's read timeout fires;
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


class AuthorizationFault(_Fault):
    """Refuse matching Resource Manager requests with 403 `AuthorizationFailed`."""

    kind: Literal["authorization"] = Field(description="Discriminator.")
    method: str | None = Field(default=None, description="HTTP method to match; any when None.")
    path: str = Field(default=".*", description="Regular expression searched in the path.")
    token: str | None = Field(
        default=None, description="Only requests signed with this bearer token; any when None."
    )

    def matches(self, method: str, path: str, token: str) -> bool:
        """Whether the fault applies to this request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.token is not None and self.token != token:
            return False
        return re.search(self.path, path) is not None


FRONTEND_BODIES = {
    502: "upstream connect error or disconnect/reset before headers. "
    "reset reason: connection termination",
    503: "no healthy upstream",
    504: "upstream request timeout",
}
"""Plain-text bodies of the scoring front end (an Envoy proxy) when it fails itself."""


class FrontendFault(_Fault):
    """Answer invocations of matching endpoints with the front end's plain-text error.

    Such a body is not JSON, which azure-ai-ml's `online_endpoints.invoke` turns into
    `MlException` (`validate_response` in azure/ai/ml/_utils/_endpoint_utils.py); the
    status codes are the documented front-end failures
    (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#http-status-codes).
    """

    kind: Literal["frontend"] = Field(description="Discriminator.")
    endpoint: str = Field(default=".*", description="Regex matched against endpoint names.")
    status: Literal[502, 503, 504] = Field(default=502, description="Status of the answer.")
    body: str | None = Field(
        default=None, description="Plain-text body; the front end's usual text when None."
    )

    @property
    def text(self) -> str:
        """The body sent."""
        return FRONTEND_BODIES[self.status] if self.body is None else self.body


class HangFault(_Fault):
    """Hold invocations of matching endpoints for `seconds` before serving them, as a
    connection that stalls on the way to the scoring front end.

    A client whose read timeout is shorter gives up first: azure-core's `RequestsTransport`
    raises `ServiceResponseTimeoutError`, a `ServiceResponseError` ("The request was sent,
    but the client failed to understand the response. The connection may have timed
    out."), beside `ServiceRequestError` for a request that could not be sent
    (https://learn.microsoft.com/python/api/azure-core/azure.core.exceptions.servicerequesterror,
    https://learn.microsoft.com/python/api/azure-core/azure.core.exceptions.serviceresponseerror).
    azure-core does not retry a POST after such an error, so the scoring call fails. The
    seconds are wall-clock: a network stall does not follow the sandbox's clock factor.
    Off unless injected, like every fault; clearing the faults releases held calls.
    """

    kind: Literal["hang"] = Field(description="Discriminator.")
    endpoint: str = Field(default=".*", description="Regex matched against endpoint names.")
    seconds: float = Field(
        default=30.0, gt=0, le=600, description="Wall-clock seconds the invocation is held."
    )


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


AnyFault = (
    HttpFault
    | AuthorizationFault
    | ProvisioningFault
    | ScoringFault
    | FrontendFault
    | HangFault
    | PipelineFault
)
Fault = Annotated[AnyFault, Field(discriminator="kind")]


class FaultRequest(BaseModel):
    """Body of `POST /_sandbox/faults`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault: Fault = Field(description="The fault to inject.")


class FaultBook:
    """Active faults; each `take_*` consumes one firing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [fault, remaining count]
        self._released = threading.Event()

    def add(self, fault: AnyFault) -> None:
        """Activate a fault."""
        with self._lock:
            self._faults.append([fault, fault.count])

    def clear(self) -> None:
        """Remove every fault, and let calls held by a hang go on."""
        with self._lock:
            self._faults.clear()
            self._released.set()
            self._released = threading.Event()

    def hold(self, fault: HangFault) -> None:
        """Wait as the hang says, or until the faults are cleared."""
        with self._lock:
            released = self._released
        released.wait(fault.seconds)

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

    def take_authorization(self, method: str, path: str, token: str) -> AuthorizationFault | None:
        """The authorization fault for this request, if one fires."""
        fault: AuthorizationFault | None = self._take(
            lambda f: isinstance(f, AuthorizationFault) and f.matches(method, path, token)
        )
        return fault

    def take_frontend(self, endpoint: str) -> FrontendFault | None:
        """The front-end fault for an invocation of this endpoint, if one fires."""
        fault: FrontendFault | None = self._take(
            lambda f: isinstance(f, FrontendFault) and re.fullmatch(f.endpoint, endpoint)
        )
        return fault

    def take_hang(self, endpoint: str) -> HangFault | None:
        """The hang fault for an invocation of this endpoint, if one fires."""
        fault: HangFault | None = self._take(
            lambda f: isinstance(f, HangFault) and re.fullmatch(f.endpoint, endpoint)
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
