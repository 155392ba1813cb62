"""FastAPI dependencies every route module uses: the call context and the JSON body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from promobot_sandbox.github.apps import identify
from promobot_sandbox.github.core import ApiError, Identity
from promobot_sandbox.github.render_base import Links
from promobot_sandbox.github.sandbox import Sandbox


@dataclass(frozen=True)
class Ctx:
    """What a handler works with: the sandbox, the caller, and the links to answer with."""

    sb: Sandbox
    who: Identity
    links: Links
    request: Request


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
