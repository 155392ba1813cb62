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

from fastapi import FastAPI, Query, Request, Response
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

    def env(environment: str | None) -> str:
        return environment or service.environment

    @app.post("/v1/models/{model}/predict")
    async def predict(
        model: str,
        request: Request,
        environment: EnvironmentQuery = None,
        version: str | None = None,
    ) -> PredictionResponse:
        """Score records or a `dataframe_split` with the version the traffic shares pick."""
        payload = await _read_json(request)
        return await run_in_threadpool(service.predict, model, env(environment), payload, version)

    @app.get("/v1/models")
    async def list_models() -> list[ModelView]:
        """Every (model, environment) with its loaded versions."""
        return service.describe_all()

    @app.get("/v1/models/{model}")
    async def describe(model: str, environment: EnvironmentQuery = None) -> ModelView:
        """Loaded versions, their traffic shares and counters."""
        return service.describe(model, env(environment))

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text: requests, errors, latency and traffic share per version."""
        return Response(render_prometheus(service.samples), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    @app.put("/v1/admin/models/{model}/versions/{version}")
    async def load(
        model: str, version: str, body: LoadRequest, environment: EnvironmentQuery = None
    ) -> VersionView:
        """Load a version beside the serving ones and smoke-test it; it gets no traffic yet."""
        return await run_in_threadpool(service.load, model, env(environment), version, body)

    @app.delete("/v1/admin/models/{model}/versions/{version}", status_code=204)
    async def unload(model: str, version: str, environment: EnvironmentQuery = None) -> None:
        """Unload a version that receives no traffic."""
        await run_in_threadpool(service.unload, model, env(environment), version)

    @app.put("/v1/admin/models/{model}/traffic")
    async def traffic(
        model: str, body: TrafficRequest, environment: EnvironmentQuery = None
    ) -> ModelView:
        """Set every version's share at once."""
        return await run_in_threadpool(service.set_traffic, model, env(environment), body.traffic)

    return app


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(
            f"the request body is not JSON: {exc}",
            hint='send {"records": [...]} or {"dataframe_split": {...}} as application/json',
        ) from exc
