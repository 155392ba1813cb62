"""The board's routes: `/` (the grid), `/models/<name>`, their JSON under `/api/`, the login.

Pages are plain HTML and CSS: no script runs, so the policy below forbids every script,
and nothing is fetched from elsewhere. Pages are never stored by caches on the way (they
may sit behind a token), and say so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.board.access import COOKIE, COOKIE_MAX_AGE_SECONDS, BoardAccess
from bot.board.pages import board_page, login_page, missing_page, model_page, stylesheet
from bot.board.service import BoardService

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_LOGIN_BYTES = 4096
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="promobot board"'}


def board_routes(service: BoardService, access: BoardAccess) -> APIRouter:
    """The board's routes, reading through `service`, guarded by `access`."""
    router = APIRouter()
    _add_pages(router, service, access)
    _add_api(router, service, access)
    _add_login(router, access)

    @router.get("/board.css", include_in_schema=False)
    async def css() -> Response:
        return Response(stylesheet(), media_type="text/css", headers=SECURITY_HEADERS)

    return router


def refused(access: BoardAccess, request: Request, html: bool) -> Response | None:
    """None when `request` may see the board; else 401, with the login form for people."""
    if access.allows(request.headers.get("authorization"), request.cookies.get(COOKIE)):
        return None
    if not html:
        body = {
            "message": "the board needs its token: send `Authorization: Bearer TOKEN` "
            "(PROMOBOT_BOARD_TOKEN)"
        }
        return JSONResponse(body, 401, headers={**SECURITY_HEADERS, **CHALLENGE})
    page = login_page(_root(request), safe_next(request.url.path), failed=False)
    return HTMLResponse(page, 401, headers={**SECURITY_HEADERS, **CHALLENGE})


def _add_pages(router: APIRouter, service: BoardService, access: BoardAccess) -> None:
    cache_seconds = service.cache_seconds

    @router.get("/", include_in_schema=False)
    @_failsafe
    async def grid(request: Request) -> Response:
        stop = refused(access, request, html=True)
        if stop is not None:
            return stop
        board = await _read(service.board)
        return _html(board_page(board, _root(request), cache_seconds, access.is_open))

    @router.get("/models/{name}", include_in_schema=False)
    @_failsafe
    async def model(name: str, request: Request) -> Response:
        stop = refused(access, request, html=True)
        if stop is not None:
            return stop
        page = await _read(lambda: service.model(name))
        if page is None:
            return _html(missing_page(_root(request), f"model {name!r}"), 404)
        return _html(model_page(page, _root(request), cache_seconds, access.is_open))


def _add_api(router: APIRouter, service: BoardService, access: BoardAccess) -> None:
    @router.get("/api/board.json", include_in_schema=False)
    @_failsafe
    async def board_json(request: Request) -> Response:
        stop = refused(access, request, html=False)
        if stop is not None:
            return stop
        board = await _read(service.board)
        return JSONResponse(board.model_dump(mode="json"), headers=SECURITY_HEADERS)

    @router.get("/api/models/{name}.json", include_in_schema=False)
    @_failsafe
    async def model_json(name: str, request: Request) -> Response:
        stop = refused(access, request, html=False)
        if stop is not None:
            return stop
        page = await _read(lambda: service.model(name))
        if page is None:
            body = {"message": f"the board shows no model {name!r}"}
            return JSONResponse(body, 404, headers=SECURITY_HEADERS)
        return JSONResponse(page.model_dump(mode="json"), headers=SECURITY_HEADERS)


def _add_login(router: APIRouter, access: BoardAccess) -> None:
    @router.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        target = safe_next(request.query_params.get("next", "/"))
        if refused(access, request, html=True) is None:
            return RedirectResponse(_root(request) + target.lstrip("/"), 303)
        return _html(login_page(_root(request), target, failed=False))

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        fields = login_fields(await _small_body(request))
        target = safe_next(fields.get("next", "/"))
        if not access.is_token(fields.get("token", "")):
            page = login_page(_root(request), target, failed=True)
            return HTMLResponse(page, 401, headers={**SECURITY_HEADERS, **CHALLENGE})
        answer = RedirectResponse(_root(request) + target.lstrip("/"), 303)
        answer.set_cookie(
            COOKIE,
            access.cookie_value(),
            max_age=COOKIE_MAX_AGE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=_root(request),
        )
        return answer

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        answer = RedirectResponse(_root(request) + "login", 303)
        answer.delete_cookie(COOKIE, path=_root(request))
        return answer


def login_fields(body: bytes) -> dict[str, str]:
    """`token` and `next` of the login form (URL-encoded); {} for anything else."""
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:
        return {}
    return {name: values[0] for name, values in fields.items() if values}


Route = Callable[..., Awaitable[Response]]


def _failsafe(route: Route) -> Route:
    """Answers a failed read with `failure_answer`."""

    @functools.wraps(route)
    async def answered(*args: Any, **kwargs: Any) -> Response:
        try:
            return await route(*args, **kwargs)
        except ReadFailed as error:
            return failure_answer(kwargs["request"], error)

    return answered


class ReadFailed(Exception):
    """A read of the board failed unexpectedly (logged with its traceback)."""


async def _read(read: Callable[[], T]) -> T:
    """Reads block (git, GitHub, the targets): off the event loop. A failure that is not
    one of the sources' (those show on the board) is a bug: logged, answered 503."""
    try:
        return await run_in_threadpool(read)
    except Exception as error:
        log.exception("the board could not be read")
        raise ReadFailed(type(error).__name__) from error


def failure_answer(request: Request, error: ReadFailed) -> Response:
    """503 with one line, never a traceback."""
    text = (
        f"the board could not be read ({error}); this looks like a bug in promobot, the log "
        "of `promobot serve` has the details"
    )
    if request.url.path.startswith(_root(request) + "api/"):
        return JSONResponse({"message": text}, 503, headers=SECURITY_HEADERS)
    return _html(missing_page(_root(request), text, failed=True), 503)


async def _small_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_LOGIN_BYTES:
            return b""
        chunks.append(chunk)
    return b"".join(chunks)


def _root(request: Request) -> str:
    """Where the board is mounted (a proxy may serve it under a prefix), ending in `/`."""
    return str(request.scope.get("root_path", "")).rstrip("/") + "/"


def safe_next(path: str) -> str:
    """A path of this site to go back to after the login; `/` for anything else."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return quote(path, safe="/._-~")


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers=SECURITY_HEADERS)
