"""The sandbox GitHub as a FastAPI app: GitHub's REST API under `/api/v3`, test hooks
under `/_sandbox`, and a page per pull request for people following a demo."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
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
    routes_protection,
    routes_pulls,
)
from promobot_sandbox.github.core import ApiError
from promobot_sandbox.github.middleware import API_PREFIX, answer
from promobot_sandbox.github.routes_graphql import router as graphql_router
from promobot_sandbox.github.routes_sandbox import router as sandbox_router
from promobot_sandbox.github.routes_web import router as web_router
from promobot_sandbox.github.sandbox import Checks, Sandbox

__all__ = ["API_PREFIX", "create_app"]


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
    # Order matters: `/commits/{ref}/status` must be tried before `/commits/{ref:path}`,
    # `/branches/{branch}/protection` before `/branches/{branch:path}`.
    modules = (
        routes_protection,
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
    app.middleware("http")(answer)
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
