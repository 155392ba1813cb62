"""The scoring server's HTTP API.

Public: `POST /v1/models/{model}/predict`, `GET /v1/models`, `GET /v1/models/{model}`,
`GET /metrics`, `GET /healthz`. Admin (for `LocalTarget`): `PUT` and `DELETE
/v1/admin/models/{model}/versions/{version}`, `PUT /v1/admin/models/{model}/traffic`.
Every model route takes `?environment=`; without it the server's `--environment` applies.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from bot.serving.api import (
    ErrorBody,
    LoadRequest,
    ModelView,
    PredictionResponse,
    TrafficRequest,
    VersionView,
)
from bot.serving.errors import BadPayload, ServingError
from bot.serving.metrics import render_prometheus
from bot.serving.service import ScoringService

EnvironmentQuery = Annotated[
    str | None, Query(description="Environment; the server's `--environment` when omitted.")
]


def create_app(service: ScoringService) -> FastAPI:
    """The FastAPI application over `service` (restore the service's state before serving)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="promobot scoring server",
        summary="MLflow pyfunc models per (model, environment), with blue/green and canary.",
        lifespan=lifespan,
    )

    @app.exception_handler(ServingError)
    async def serving_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServingError)
        body = ErrorBody(detail=exc.message, hint=exc.hint)
        return JSONResponse(body.model_dump(), status_code=exc.status)

    app.include_router(public_routes(service))
    app.include_router(admin_routes(service), prefix="/v1/admin")
    return app


def public_routes(service: ScoringService) -> APIRouter:
    """Predictions, what serves, metrics and liveness."""
    router = APIRouter()

    def score(model: str, environment: str | None, version: str | None, raw: bytes) -> bytes:
        payload = _parse_json(raw)
        environment = environment or service.environment
        return service.predict(model, environment, payload, version).model_dump_json().encode()

    @router.post("/v1/models/{model}/predict", response_model=PredictionResponse)
    async def predict(
        model: str,
        request: Request,
        environment: EnvironmentQuery = None,
        version: str | None = None,
    ) -> Response:
        """Score records or a `dataframe_split` with the version the traffic shares pick."""
        raw = await request.body()
        # Parsing, scoring and encoding run in one worker thread: the event loop only moves bytes.
        body = await run_in_threadpool(score, model, environment, version, raw)
        return Response(body, media_type="application/json")

    @router.get("/v1/models")
    async def list_models() -> list[ModelView]:
        """Every (model, environment) with its loaded versions."""
        return service.describe_all()

    @router.get("/v1/models/{model}")
    async def describe(model: str, environment: EnvironmentQuery = None) -> ModelView:
        """Loaded versions, their traffic shares and counters."""
        return service.describe(model, environment or service.environment)

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text: requests, errors, latency and traffic share per version."""
        return Response(render_prometheus(service.samples), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    return router


def admin_routes(service: ScoringService) -> APIRouter:
    """What `LocalTarget` calls: load, unload, and set traffic shares."""
    router = APIRouter()

    def env(environment: str | None) -> str:
        return environment or service.environment

    @router.put("/models/{model}/versions/{version}")
    async def load(
        model: str, version: str, body: LoadRequest, environment: EnvironmentQuery = None
    ) -> VersionView:
        """Load a version beside the serving ones and smoke-test it; it gets no traffic yet."""
        return await run_in_threadpool(service.load, model, env(environment), version, body)

    @router.delete("/models/{model}/versions/{version}", status_code=204)
    async def unload(model: str, version: str, environment: EnvironmentQuery = None) -> None:
        """Unload a version that receives no traffic."""
        await run_in_threadpool(service.unload, model, env(environment), version)

    @router.put("/models/{model}/traffic")
    async def traffic(
        model: str, body: TrafficRequest, environment: EnvironmentQuery = None
    ) -> ModelView:
        """Set every version's share at once."""
        return await run_in_threadpool(service.set_traffic, model, env(environment), body.traffic)

    return router


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(
            f"the request body is not JSON: {exc}",
            hint='send {"records": [...]} or {"dataframe_split": {...}} as application/json',
        ) from exc
