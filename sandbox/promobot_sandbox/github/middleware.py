"""What every answer goes through: injected faults, the caller's rate-limit budget,
conditional requests (`ETag`, 304), contract checks, and the request log."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from promobot_sandbox.github.apps import identify
from promobot_sandbox.github.conditional import etag, is_conditional, last_modified, not_modified
from promobot_sandbox.github.core import ApiError, Fault, Identity
from promobot_sandbox.github.ratelimit import Budget, budget_for, exceeded, resource_of
from promobot_sandbox.github.sandbox import Sandbox

API_PREFIX = "/api/v3"
GRAPHQL = "/api/graphql"
# Reading the budget spends none of it.
# https://docs.github.com/en/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user
FREE_PATHS = (API_PREFIX + "/rate_limit",)


def _fault_for(sandbox: Sandbox, method: str, path: str) -> Fault | None:
    for fault in sandbox.faults:
        if fault.hits >= fault.count:
            continue
        if fault.method not in ("*", method.upper()):
            continue
        if re.search(fault.path_regex, path):
            fault.hits += 1
            return fault
    return None


def _fault_headers(fault: Fault) -> dict[str, str]:
    headers: dict[str, str] = {}
    if fault.retry_after and fault.status in (403, 429):
        headers["Retry-After"] = str(fault.retry_after)
    reset_in = fault.reset_in if fault.reset_in is not None else fault.retry_after
    if fault.primary_rate_limit or fault.status == 429 or fault.reset_in is not None:
        # Without a reset time of its own, the limit resets when Retry-After says.
        headers.update(
            {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + int(reset_in or 0)),
            }
        )
    if fault.primary_rate_limit:
        headers.pop("Retry-After", None)
    headers.update(fault.headers)
    return headers


def _fault_response(fault: Fault) -> Response:
    headers = _fault_headers(fault)
    if fault.status == 403 and fault.primary_rate_limit:
        message = fault.message or "API rate limit exceeded for user ID 1."
        docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
        return ApiError(403, message, headers=headers, docs=docs).response()
    if fault.status == 403:
        message = fault.message or (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID."
        )
        docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
        return ApiError(403, message, headers=headers, docs=docs).response()
    if fault.status == 429:
        return ApiError(
            429, fault.message or "API rate limit exceeded.", headers=headers
        ).response()
    status = fault.status or 500
    return JSONResponse(
        {"message": fault.message or "Server Error"}, status_code=status, headers=headers
    )


def _caller(sandbox: Sandbox, request: Request) -> Identity | None:
    try:
        return identify(sandbox, request.headers.get("authorization"))
    except ApiError:
        return None


def _identity_json(who: Identity | None) -> dict[str, Any] | None:
    if who is None:
        return None
    return {
        "kind": who.kind,
        "login": who.login,
        "app_id": who.app_id,
        "installation_id": who.installation_id,
    }


async def _streamed(request: Request, call_next: Any) -> tuple[Response, bytes]:
    async with request.app.state.api_lock:
        streamed = await call_next(request)
        body = b"".join([chunk async for chunk in streamed.body_iterator])
    return streamed, body


@dataclass
class Outcome:
    """The answer so far, the validators to add to it, and whether it spent budget."""

    response: Response
    body: bytes
    extra: dict[str, str] = field(default_factory=dict)
    counted: bool = False


def _refused(sandbox: Sandbox, who: Identity, budget: Budget) -> Outcome:
    response = exceeded(sandbox, who, budget).response()
    return Outcome(response, bytes(response.body))


async def _served(
    request: Request, call_next: Any, sandbox: Sandbox, who: Identity | None, budget: Budget | None
) -> Outcome:
    """The handler's answer: refused when the budget is spent (a conditional GET is tried
    first, as a 304 costs nothing), turned into 304 when the client's copy is current."""
    conditional = request.method == "GET" and is_conditional(request.headers)
    if who is not None and budget is not None and budget.spent and not conditional:
        return _refused(sandbox, who, budget)
    response, body = await _streamed(request, call_next)
    outcome = Outcome(response, body)
    if request.method == "GET" and response.status_code == 200:
        outcome.extra["ETag"] = etag(body, request.headers)
        modified = last_modified(body)
        if modified is not None:
            outcome.extra["Last-Modified"] = modified
        if conditional and not_modified(request.headers, outcome.extra["ETag"], modified):
            outcome.response, outcome.body = Response(status_code=304), b""
    if who is None or budget is None or outcome.response.status_code == 304:
        return outcome
    if budget.spent:
        return _refused(sandbox, who, budget)
    budget.used += 1
    outcome.counted = True
    return outcome


async def answer(request: Request, call_next: Any) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    path = request.url.path
    if path.startswith("/_sandbox/") and not path.startswith("/_sandbox/git/"):
        passthrough: Response = await call_next(request)
        return passthrough
    fault = _fault_for(sandbox, request.method, path)
    late = fault is not None and fault.answer_late and not fault.status
    if fault is not None and fault.latency_ms and not late:
        await asyncio.sleep(fault.latency_ms / 1000)
    is_api = path.startswith(API_PREFIX + "/") or path == GRAPHQL
    who = _caller(sandbox, request) if is_api else None
    budget = None
    if who is not None and path not in FREE_PATHS:
        budget = budget_for(sandbox, who, resource_of(path))
    if fault is not None and fault.status:
        response = _fault_response(fault)
        outcome = Outcome(response, bytes(response.body))
    elif is_api:
        outcome = await _served(request, call_next, sandbox, who, budget)
    else:
        outcome = Outcome(*await _streamed(request, call_next))
    if late and fault is not None:
        await asyncio.sleep(fault.latency_ms / 1000)
    status = outcome.response.status_code
    sandbox.request_log.entries.append(
        {
            "method": request.method,
            "path": path,
            "query": request.url.query,
            "status": status,
            "counted": outcome.counted,
            "identity": _identity_json(who),
        }
    )
    _check_contract(sandbox, request, status, outcome.body)
    headers = dict(outcome.response.headers)
    headers.update(outcome.extra)
    headers.setdefault("x-github-request-id", uuid.uuid4().hex[:16].upper())
    if budget is not None:
        for name, value in budget.headers().items():
            headers.setdefault(name.lower(), value)
    if status == 304:
        headers.pop("content-type", None)
        headers.pop("content-length", None)
    return Response(content=outcome.body, status_code=status, headers=headers)


def _check_contract(sandbox: Sandbox, request: Request, status: int, body: bytes) -> None:
    checks = sandbox.checks
    path = request.url.path
    if checks.response is None or not path.startswith(API_PREFIX + "/"):
        return
    # The path as sent: an encoded `%2F` inside one parameter stays one segment.
    raw = request.scope.get("raw_path", b"").decode("latin-1") or path
    checks.checked_responses += 1
    checks.problems.extend(checks.response(request.method, raw[len(API_PREFIX) :], status, body))
