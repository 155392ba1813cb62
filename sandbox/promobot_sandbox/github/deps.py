"""FastAPI dependencies every route module uses: the call context and the JSON body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from promobot_sandbox.github import permissions
from promobot_sandbox.github.apps import identify
from promobot_sandbox.github.core import ApiError, Identity, Permission
from promobot_sandbox.github.render_base import Links
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record


@dataclass(frozen=True)
class Ctx:
    """What a handler works with: the sandbox, the caller, and the links to answer with."""

    sb: Sandbox
    who: Identity
    links: Links
    request: Request

    def require(self, owner: str, name: str, needed: Permission) -> Record:
        """The repository, when the caller may `needed` it and, for an installation token,
        when the App has the permission this endpoint needs (GitHub checks both)."""
        repo = self.sb.require(self.who, owner, name, needed)
        self.require_app_permission()
        return repo

    def require_app_permission(self) -> None:
        """403 "Resource not accessible by integration" when an installation token's App
        lacks this endpoint's permission; people and App JWTs pass."""
        if self.who.kind != "installation":
            return
        route = self.request.scope.get("route")
        template = str(getattr(route, "path", ""))
        needs = permissions.needs_for(self.request.method, template)
        if needs is None:
            raise permissions.refuse(())
        permissions.require(self.who.granted, needs)


def links_for(request: Request) -> Links:
    return Links(str(request.base_url).rstrip("/"))


def context(request: Request) -> Ctx:
    sandbox: Sandbox = request.app.state.sandbox
    who = identify(sandbox, request.headers.get("authorization"))
    return Ctx(sandbox, who, links_for(request), request)


async def json_body(request: Request) -> Any:
    """The request's JSON body ({} when empty); 400 like GitHub for broken JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ApiError(400, "Problems parsing JSON") from error
