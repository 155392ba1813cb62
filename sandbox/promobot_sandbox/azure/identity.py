"""Who a Resource Manager call comes from, and whether Azure lets it through.

Each bearer token the sandbox accepts belongs to an identity with role assignments on
the workspace. ARM authorizes every call against the action it performs (the
operation names of https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations#microsoftmachinelearningservices)
and answers 403 `AuthorizationFailed` when no role grants it; a token past its expiry
gets 401 `ExpiredAuthenticationToken` with the `WWW-Authenticate` challenge azure-core's
`ARMChallengeAuthenticationPolicy` reads (azure/mgmt/core/policies/_authentication.py).
Tokens from Microsoft Entra ID last 60-90 minutes
(https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes#access-tokens),
and a static token cannot be refreshed.
"""

from __future__ import annotations

import fnmatch
import hmac
import uuid
from collections.abc import Sequence
from typing import Literal

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from promobot_sandbox.azure.timing import dotnet_utc

PROVIDER = "Microsoft.MachineLearningServices"
MLFLOW_PREFIX = "/mlflow/v1.0"
BuiltInRole = Literal["Owner", "Contributor", "Reader"]

# Actions and NotActions of the built-in roles
# (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general).
_ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Owner": (("*",), ()),
    "Contributor": (
        ("*",),
        (
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ),
    ),
    "Reader": (("*/read",), ()),
}


class SandboxIdentity(BaseModel):
    """A principal with a static bearer token and its role assignments on the workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = Field(min_length=1, description="The bearer token it signs in with.")
    name: str = Field(default="sandbox-client", description="Client name in error messages.")
    object_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()), description="Its Entra ID object id."
    )
    roles: list[BuiltInRole] = Field(
        default_factory=lambda: list[BuiltInRole](["Contributor"]),
        description="Built-in roles it holds.",
    )
    actions: list[str] = Field(
        default_factory=list, description="Actions of a custom role it holds, `*` as wildcard."
    )
    not_actions: list[str] = Field(
        default_factory=list, description="NotActions of that custom role."
    )
    deny_actions: list[str] = Field(
        default_factory=list, description="Actions a deny assignment refuses, whatever the roles."
    )
    lifetime_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Seconds of sandbox time the token stays valid once seeded; None: forever.",
    )
    expires_at: float | None = Field(
        default=None, description="Sandbox time the token expires at; set when it is seeded."
    )

    def is_allowed(self, action: str) -> bool:
        """Whether a role grants `action` and no deny assignment refuses it.

        A role grants what its Actions match and its NotActions do not; `*` is a wildcard
        and actions compare case-insensitively
        (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#actions).
        Deny assignments win over role assignments
        (https://learn.microsoft.com/azure/role-based-access-control/deny-assignments).
        """
        if _matches(action, self.deny_actions):
            return False
        grants = [_ROLES[role] for role in self.roles]
        grants.append((tuple(self.actions), tuple(self.not_actions)))
        return any(_matches(action, yes) and not _matches(action, no) for yes, no in grants)


def _matches(action: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def action_of(method: str, path: str) -> str | None:
    """The RBAC action of an ARM (or workspace MLflow) request; None outside ARM."""
    if path.startswith(MLFLOW_PREFIX + "/"):
        return f"{PROVIDER}/workspaces/experiments/runs/read"
    marker = f"/providers/{PROVIDER}/"
    if marker.lower() not in path.lower():
        return None
    tail = path[path.lower().index(marker.lower()) + len(marker) :].strip("/").split("/")
    types = tail[0::2]
    names = tail[1::2]
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
        method.upper(), "action"
    )
    if len(types) > len(names) and method.upper() == "POST":
        return "/".join([PROVIDER, *types, "action"])  # e.g. onlineEndpoints/listKeys/action
    return "/".join([PROVIDER, *types, verb])


def scope_of(path: str) -> str:
    """The resource id a request acts on, as ARM names it in authorization errors."""
    return path.removeprefix(MLFLOW_PREFIX).rstrip("/")


def find_identity(identities: list[SandboxIdentity], authorization: str) -> SandboxIdentity | None:
    """The identity whose token is in a `Bearer` Authorization header."""
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    for identity in identities:
        if hmac.compare_digest(given.strip().encode(), identity.token.encode()):
            return identity
    return None


def authentication_failed() -> Response:
    """ARM's answer to a request without a valid bearer token."""
    return JSONResponse(
        {"error": {"code": "AuthenticationFailed", "message": "Authentication failed."}},
        status_code=401,
    )


def expired(identity: SandboxIdentity, now: float, tenant_id: str) -> Response | None:
    """401 `ExpiredAuthenticationToken` once the token's expiry has passed, else None."""
    if identity.expires_at is None or now < identity.expires_at:
        return None
    message = (
        f"The access token expiry UTC time '{dotnet_utc(identity.expires_at)}' is earlier "
        f"than current UTC time '{dotnet_utc(now)}'."
    )
    challenge = (
        f'Bearer authorization_uri="https://login.windows.net/{tenant_id}", '
        'error="invalid_token", error_description="The access token has expired."'
    )
    return JSONResponse(
        {"error": {"code": "ExpiredAuthenticationToken", "message": message}},
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def authorization_failed(identity: SandboxIdentity, action: str, scope: str) -> Response:
    """403 `AuthorizationFailed`, in ARM's words."""
    message = (
        f"The client '{identity.name}' with object id '{identity.object_id}' does not have "
        f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
        "invalid. If access was recently granted, please refresh your credentials."
    )
    return JSONResponse(
        {"error": {"code": "AuthorizationFailed", "message": message}}, status_code=403
    )
