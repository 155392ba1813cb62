"""The sandbox GitHub as a FastAPI app: GitHub's REST API under `/api/v3`, test hooks
under `/_sandbox`, and a page per pull request for people following a demo."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from promobot_sandbox.github import (
    routes_checks,
    routes_compare,
    routes_contents,
    routes_deploy,
    routes_git,
    routes_hooks,
    routes_issues,
    routes_merge,
    routes_misc,
    routes_pulls,
)
from promobot_sandbox.github.core import ApiError, Fault
from promobot_sandbox.github.routes_graphql import router as graphql_router
from promobot_sandbox.github.routes_sandbox import router as sandbox_router
from promobot_sandbox.github.routes_web import router as web_router
from promobot_sandbox.github.sandbox import Checks, Sandbox

API_PREFIX = "/api/v3"


def create_app(data_dir: Path, *, checks: Checks | None = None) -> FastAPI:
    """The sandbox app over the state in `data_dir` (created when missing).

    `checks` switches on contract checks of every response and webhook payload; the
    problems found are collected in `checks.problems` (tests assert it stays empty).
    """
    sandbox = Sandbox(data_dir, checks)
    app = FastAPI(
        title="promobot sandbox GitHub",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = sandbox
    app.state.api_lock = asyncio.Lock()
    api = APIRouter(prefix=API_PREFIX)
    # Order matters: `/commits/{ref}/status` must be tried before `/commits/{ref:path}`.
    modules = (
        routes_checks,
        routes_compare,
        routes_contents,
        routes_pulls,
        routes_merge,
        routes_issues,
        routes_deploy,
        routes_hooks,
        routes_misc,
        routes_git,
    )
    for module in modules:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(graphql_router)
    app.include_router(sandbox_router)
    app.include_router(web_router)
    _install_error_handlers(app)
    app.middleware("http")(_middleware)
    app.router.on_shutdown.append(sandbox.close)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return error.response()

    async def validation_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        errors = [
            {
                "resource": "Request",
                "field": ".".join(str(p) for p in e["loc"][1:]),
                "code": "invalid",
                "message": e["msg"],
            }
            for e in error.errors()
        ]
        return ApiError(422, "Invalid request.", errors=errors).response()

    async def http_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        message = "Not Found" if error.status_code == 404 else str(error.detail)
        return ApiError(error.status_code, message).response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


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


async def _middleware(request: Request, call_next: Any) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    path = request.url.path
    if path.startswith("/_sandbox/") and not path.startswith("/_sandbox/git/"):
        passthrough: Response = await call_next(request)
        return passthrough
    fault = _fault_for(sandbox, request.method, path)
    response: Response | None = None
    late = fault is not None and fault.answer_late and not fault.status
    if fault is not None:
        if fault.latency_ms and not late:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.status:
            response = _fault_response(fault)
    if response is not None:
        body = bytes(response.body)
    else:
        async with request.app.state.api_lock:
            streamed = await call_next(request)
            body = b"".join([chunk async for chunk in streamed.body_iterator])
        response = streamed
        if late and fault is not None:
            await asyncio.sleep(fault.latency_ms / 1000)
    sandbox.request_log.entries.append(
        {"method": request.method, "path": path, "status": response.status_code}
    )
    checks = sandbox.checks
    if checks.response is not None and path.startswith(API_PREFIX + "/"):
        # The path as sent: an encoded `%2F` inside one parameter stays one segment.
        raw = request.scope.get("raw_path", b"").decode("latin-1") or path
        checks.checked_responses += 1
        checks.problems.extend(
            checks.response(request.method, raw[len(API_PREFIX) :], response.status_code, body)
        )
    headers = dict(response.headers)
    headers.setdefault("x-github-request-id", uuid.uuid4().hex[:16].upper())
    headers.setdefault("x-ratelimit-limit", "5000")
    headers.setdefault("x-ratelimit-remaining", "4999")
    headers.setdefault("x-ratelimit-reset", str(int(time.time()) + 3600))
    headers.setdefault("x-ratelimit-resource", "core")
    return Response(content=body, status_code=response.status_code, headers=headers)
