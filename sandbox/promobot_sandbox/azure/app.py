"""The sandbox Azure as one FastAPI app: ARM, the model registry, scoring, DevOps, test hooks."""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Body, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from promobot_sandbox.azure import arm, devops, registry
from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.devops import DevOpsError
from promobot_sandbox.azure.faults import FaultBook, FaultRequest, HttpFault, RequestLog
from promobot_sandbox.azure.identity import (
    action_of,
    authentication_failed,
    authorization_failed,
    expired,
    find_identity,
    scope_of,
)
from promobot_sandbox.azure.scoring import ModelHost
from promobot_sandbox.azure.seed import SeedPatch
from promobot_sandbox.azure.state import ArmError, SandboxState

_ARM_PREFIXES = ("/subscriptions/", "/mlflow/")


@dataclass(frozen=True)
class Sandbox:
    """The app and the handles tests and the CLI reach into."""

    app: FastAPI
    state: SandboxState
    faults: FaultBook
    log: RequestLog
    host: ModelHost


def create_app(config: SandboxAzureConfig) -> Sandbox:
    """Build the sandbox; state is read from and saved to `config.data_dir`."""
    # Model downloads during provisioning would otherwise draw progress bars on stderr.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    state = SandboxState(config)
    faults = FaultBook()
    log = RequestLog()
    host = ModelHost(state, faults)
    state.provisioner = host.provision
    state.retirer = host.retire
    app = FastAPI(title="promobot sandbox Azure", docs_url=None, redoc_url=None)
    app.include_router(arm.build_router(state))
    app.include_router(registry.build_router(state))
    _add_scoring(app, state, host, faults)
    _add_test_hooks(app, faults, log, host)
    _add_seed_hooks(app, state)
    app.include_router(devops.build_router(state, faults))
    _add_error_handlers(app)
    _add_middleware(app, state, faults, log)
    return Sandbox(app=app, state=state, faults=faults, log=log, host=host)


def _add_scoring(app: FastAPI, state: SandboxState, host: ModelHost, faults: FaultBook) -> None:
    @app.post("/inference/{endpoint}/score")
    def score(
        endpoint: str,
        payload: Annotated[dict[str, Any], Body()],
        authorization: Annotated[str | None, Header()] = None,
        azureml_model_deployment: Annotated[str | None, Header()] = None,
    ) -> Response:
        with state.locked() as data:
            keys = data["keys"].get(endpoint)
        if keys is None:
            raise ArmError(404, "EndpointNotFound", f"Endpoint {endpoint} was not found.")
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not any(hmac.compare_digest(given, k) for k in keys.values()):
            raise ArmError(401, "Unauthorized", "The key or token in the request is not valid.")
        hang = faults.take_hang(endpoint)
        if hang is not None:
            faults.hold(hang)  # a sync route: one worker thread waits, not the server
        frontend = faults.take_frontend(endpoint)
        if frontend is not None:
            return Response(frontend.text, status_code=frontend.status, media_type="text/plain")
        deployment = host.route(endpoint, azureml_model_deployment)
        predictions = host.score(endpoint, deployment, payload)
        return JSONResponse(predictions, headers={"azureml-model-deployment": deployment["name"]})


def _add_test_hooks(app: FastAPI, faults: FaultBook, log: RequestLog, host: ModelHost) -> None:
    @app.get("/_sandbox/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_sandbox/faults")
    def list_faults() -> list[dict[str, Any]]:
        return faults.active()

    @app.post("/_sandbox/faults", status_code=201)
    def add_fault(request: FaultRequest) -> list[dict[str, Any]]:
        faults.add(request.fault)
        return faults.active()

    @app.delete("/_sandbox/faults", status_code=204)
    def clear_faults() -> None:
        faults.clear()

    @app.get("/_sandbox/requests")
    def list_requests() -> list[dict[str, Any]]:
        return log.entries()

    @app.delete("/_sandbox/requests", status_code=204)
    def clear_requests() -> None:
        log.clear()

    @app.get("/_sandbox/scoring")
    def scoring_counts() -> list[dict[str, Any]]:
        return [
            {
                "endpoint": endpoint,
                "deployment": deployment,
                "requests": count,
                "errors": host.errors[(endpoint, deployment)],
            }
            for (endpoint, deployment), count in sorted(host.requests.items())
        ]


def _add_seed_hooks(app: FastAPI, state: SandboxState) -> None:
    @app.get("/_sandbox/seed")
    def get_seed() -> dict[str, Any]:
        return state.seed.model_dump(mode="json")

    @app.patch("/_sandbox/seed")
    def patch_seed(patch: SeedPatch) -> dict[str, Any]:
        return state.patch_seed(patch).model_dump(mode="json")

    @app.get("/_sandbox/clock")
    def get_clock() -> dict[str, Any]:
        now = state.clock.now()
        return {"now": now, "iso": state.clock.iso(now), "factor": state.clock.factor}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ArmError)
    def arm_error(_request: Request, exc: ArmError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(DevOpsError)
    def devops_error(_request: Request, exc: DevOpsError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def bad_request(_request: Request, exc: RequestValidationError) -> Response:
        message = "; ".join(str(e.get("msg")) for e in exc.errors())
        return JSONResponse(
            {"error": {"code": "BadArgument", "message": f"Invalid request: {message}"}},
            status_code=400,
        )


Handler = Callable[[Request], Awaitable[Response]]


def _add_middleware(app: FastAPI, state: SandboxState, faults: FaultBook, log: RequestLog) -> None:
    devops_prefix = f"/{state.config.devops_organization}/"

    @app.middleware("http")
    async def guard(request: Request, call_next: Handler) -> Response:
        path = request.url.path
        if path.startswith("/_sandbox/"):
            return await call_next(request)
        response = _refuse(request, state, faults, devops_prefix)
        if response is None:
            response = await call_next(request)
        log.record(request.method, path, response.status_code)
        return response


def _refuse(
    request: Request, state: SandboxState, faults: FaultBook, devops_prefix: str
) -> Response | None:
    """The answer for an unauthenticated, unauthorized or faulted request, or None to serve it."""
    path = request.url.path
    is_devops = path.lower().startswith(devops_prefix.lower())
    authorization = request.headers.get("authorization", "")
    if path.startswith(_ARM_PREFIXES):
        refused = _refuse_arm(request, state, faults, authorization)
        if refused is not None:
            return refused
    if is_devops and not _basic_ok(authorization, state.config.devops_pat):
        return Response("Access denied: the personal access token is not valid.", status_code=401)
    fault = faults.take_http(request.method, path)
    if fault is None:
        return None
    return _fault_response(fault, is_devops)


def _refuse_arm(
    request: Request, state: SandboxState, faults: FaultBook, authorization: str
) -> Response | None:
    """ARM's 401 or 403 for this caller, or None when it may go on."""
    identity = find_identity(state.identities(), authorization)
    if identity is None:
        return authentication_failed()
    refused = expired(identity, state.clock.now(), state.config.tenant_id)
    if refused is not None:
        return refused
    path, method = request.url.path, request.method
    action = action_of(method, path)
    if action is None:
        return None
    if not identity.is_allowed(action) or faults.take_authorization(method, path, identity.token):
        return authorization_failed(identity, action, scope_of(path))
    return None


def _fault_response(fault: HttpFault, is_devops: bool) -> Response:
    headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
    if is_devops:
        error = DevOpsError(fault.status, "InjectedFaultException", fault.message)
        return JSONResponse(error.body(), status_code=fault.status, headers=headers)
    code = "TooManyRequests" if fault.status == 429 else "InternalServerError"
    return JSONResponse(
        {"error": {"code": code, "message": fault.message}},
        status_code=fault.status,
        headers=headers,
    )


def _basic_ok(authorization: str, pat: str) -> bool:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip()).decode()
    except ValueError:
        return False
    return hmac.compare_digest(decoded.partition(":")[2], pat)
