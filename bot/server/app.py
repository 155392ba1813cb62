"""The FastAPI app of the bot service: webhooks in, workers out, health and metrics.

`create_app(settings, handler)` wires everything; the app's lifespan starts and stops the
workers and the housekeeper. Pass `store` and `metrics` when the handler was built with
them (see `bot.server.handlers.ServiceContext`); otherwise the app opens its own store.

Every webhook route runs behind `_guarded`: whatever a request does to intake, the sender
gets a short JSON answer, never a 500 nor a traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from bot.server.handlers import Handler
from bot.server.housekeeping import Housekeeper
from bot.server.ingest import UNKNOWN, Decoded, Ingest, Reply
from bot.server.metrics import ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.server.worker import WorkerPool
from bot.store.sql import SqlEventStore
from bot.webhooks.signatures import parse_decimal

logger = logging.getLogger(__name__)

INLINE_DECODE_BYTES = 256 * 1024
"""Bodies up to this size are verified and parsed on the event loop (well under a
millisecond); larger ones go to a thread so they never stall other requests."""
MAX_CONTENT_LENGTH_DIGITS = 20
"""A body of 10^20 bytes is no body: longer lengths are refused unread."""


class BodyTooLarge(Exception):
    """The request body is over the configured limit."""


class BadContentLength(Exception):
    """`Content-Length` is not a decimal number of bytes."""


@dataclass(frozen=True)
class Service:
    """What the app holds (as `app.state.service`)."""

    settings: ServiceSettings
    store: SqlEventStore
    metrics: ServiceMetrics
    workers: WorkerPool
    ingest: Ingest


def open_event_store(settings: ServiceSettings) -> SqlEventStore:
    """The event store the settings name, answering deliveries as `ack_after` says."""
    return SqlEventStore(settings.database_url, flush_deliveries=settings.ack_after == "flush")


def create_app(
    settings: ServiceSettings,
    handler: Handler,
    *,
    store: SqlEventStore | None = None,
    metrics: ServiceMetrics | None = None,
    readiness: Callable[[], list[str]] | None = None,
    board: APIRouter | None = None,
) -> FastAPI:
    """The service app; its workers run `handler` on every stored event.

    `readiness` lists what keeps the service from working (the doctor's errors: a
    missing App permission, two repositories claiming a model); `/readyz` reports them.
    `board` is the promotion board's routes (`bot.board.routes`), served at `/`.
    """
    owns_store = store is None
    store = store if store is not None else open_event_store(settings)
    metrics = metrics if metrics is not None else ServiceMetrics()
    metrics.watch_queue_depth(store.queue_depth)
    workers = WorkerPool(store, handler, settings, metrics)
    housekeeper = Housekeeper(store, settings, workers.wake)
    service = Service(
        settings, store, metrics, workers, Ingest(settings, store, metrics, workers.wake)
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        workers.start()
        housekeeper.start()
        try:
            yield
        finally:
            housekeeper.stop()
            workers.stop()
            if owns_store:
                store.close()

    app = FastAPI(
        title="promobot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.service = service
    _add_webhook_routes(app, service)
    _add_health_routes(app, service, readiness)
    if board is not None:
        app.include_router(board)
    return app


def _add_webhook_routes(app: FastAPI, service: Service) -> None:
    ingest, limit = service.ingest, service.settings.max_body_bytes

    async def receive(source: str, request: Request) -> bytes | Reply:
        try:
            return await read_body(request, limit)
        except BodyTooLarge:
            return ingest.too_large(source)
        except BadContentLength:
            return ingest.malformed(source, UNKNOWN, "Content-Length is not a number of bytes")
        except ClientDisconnect:
            return ingest.malformed(source, UNKNOWN, "the body ended early or was malformed")

    @app.post("/webhooks/github")
    @_guarded("github", ingest)
    async def github(request: Request) -> Response:
        body = await receive("github", request)
        if isinstance(body, Reply):
            return _respond(body)
        decoded = await _decode(len(body), ingest.decode_github, request.headers, body)
        return _respond(decoded if isinstance(decoded, Reply) else await ingest.accept(decoded))

    @app.post("/webhooks/mlflow")
    @_guarded("mlflow", ingest)
    async def mlflow(request: Request) -> Response:
        body = await receive("mlflow", request)
        if isinstance(body, Reply):
            return _respond(body)
        decoded = await _decode(len(body), ingest.decode_mlflow, request.headers, body)
        return _respond(decoded if isinstance(decoded, Reply) else await ingest.accept(decoded))

    @app.post("/webhooks/azure")
    @_guarded("azure", ingest)
    async def azure(request: Request) -> Response:
        body = await receive("azure", request)
        if isinstance(body, Reply):
            return _respond(body)
        params = request.query_params
        decoded = await _decode(len(body), ingest.decode_azure, request.headers, params, body)
        return _respond(decoded if isinstance(decoded, Reply) else await ingest.accept(decoded))

    @app.options("/webhooks/azure")
    @_guarded("azure", ingest)
    async def azure_cloudevents_handshake(request: Request) -> Response:
        # CloudEvents 1.0 abuse protection: echo the origin that asks to deliver.
        refused = ingest.authenticate_azure(request.headers, request.query_params)
        if refused is not None:
            return _respond(refused)
        origin = request.headers.get("webhook-request-origin", "")
        return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin})


Route = Callable[[Request], Awaitable[Response]]


def _guarded(source: str, ingest: Ingest) -> Callable[[Route], Route]:
    """The request-level guard: an exception that escapes a webhook route is logged with
    its traceback and answered 400, without it."""

    def wrap(route: Route) -> Route:
        @functools.wraps(route)
        async def guarded(request: Request) -> Response:
            try:
                return await route(request)
            except Exception as error:
                header = _DELIVERY_ID_HEADERS.get(source)
                delivery_id = request.headers.get(header) if header else None
                return _respond(ingest.unreadable(source, delivery_id, error))

        return guarded

    return wrap


_DELIVERY_ID_HEADERS = {"github": "x-github-delivery", "mlflow": "x-mlflow-delivery-id"}
"""Event Grid names its events in the body, not in a header."""


async def _decode(size: int, decode: Callable[..., Decoded], *args: Any) -> Decoded:
    """Authenticate and parse: inline for ordinary bodies, off the event loop for big ones."""
    if size <= INLINE_DECODE_BYTES:
        return decode(*args)
    return await run_in_threadpool(decode, *args)


def _add_health_routes(
    app: FastAPI, service: Service, readiness: Callable[[], list[str]] | None
) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            await run_in_threadpool(service.store.ping)
        except Exception as error:
            logger.warning(
                "not ready: the event store cannot be reached (%s)", type(error).__name__
            )
            return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, 503)
        if readiness is not None:
            problems = await run_in_threadpool(readiness)
            if problems:
                return JSONResponse({"status": "misconfigured", "problems": problems}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics")
    async def metrics() -> Response:
        content, content_type = await run_in_threadpool(service.metrics.render)
        return Response(content=content, media_type=content_type)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (before reading it) any declared or streamed size over `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        size = parse_decimal(declared.strip(), MAX_CONTENT_LENGTH_DIGITS)
        if size is None:
            raise BadContentLength
        if size > limit:
            raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _respond(reply: Reply) -> Response:
    return JSONResponse(reply.body, status_code=reply.status)
