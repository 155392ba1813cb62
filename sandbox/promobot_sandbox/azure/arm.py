"""Azure Resource Manager routes for a workspace's online endpoints and deployments.

Writes follow ARM's long-running-operation protocol: a PUT answers 200/201 with the
resource in `Creating`/`Updating` and an `Azure-AsyncOperation` URL to poll; a DELETE
answers 202 with a `Location` URL that returns 202 until the resource is gone.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.resources import (
    check_model,
    check_name,
    check_workspace,
    deployment_resource,
    endpoint_resource,
    find_deployment,
    find_endpoint,
    valid_traffic,
    with_urls,
    workspace_resource,
)
from promobot_sandbox.azure.state import ArmError, JsonDict, SandboxState

WORKSPACE = (
    "/subscriptions/{subscription}/resourceGroups/{group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
)
ENDPOINT = WORKSPACE + "/onlineEndpoints/{endpoint}"
DEPLOYMENT = ENDPOINT + "/deployments/{deployment}"
OPERATIONS = (
    "/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/locations/{location}"
)
Payload = Annotated[dict[str, Any], Body()]


def workspace_router(config: SandboxAzureConfig) -> APIRouter:
    """A router whose every route first checks that the path names the sandbox's workspace."""

    def in_workspace(subscription: str, group: str, workspace: str) -> None:
        check_workspace(config, subscription, group, workspace)

    return APIRouter(dependencies=[Depends(in_workspace)])


def retry_after(config: SandboxAzureConfig) -> dict[str, str]:
    """When to poll again: whole seconds in `Retry-After`, else Azure's `retry-after-ms`."""
    ms = config.poll_after_ms
    if ms % 1000 == 0:
        return {"Retry-After": str(ms // 1000)}
    return {"retry-after-ms": str(ms)}


def _lro_headers(
    request: Request, config: SandboxAzureConfig, op_id: str, kind: str
) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    scope = OPERATIONS.format(subscription=config.subscription_id, location=config.location)
    url = f"{base}{scope}/{kind}/{op_id}?api-version={request.query_params.get('api-version', '')}"
    header = "Azure-AsyncOperation" if kind == "mfeOperationsStatus" else "Location"
    return {header: url, **retry_after(config)}


def build_router(state: SandboxState) -> APIRouter:
    """Routes for the workspace, its online endpoints, deployments and operations."""
    workspace = workspace_router(state.config)
    _add_endpoint_reads(workspace, state)
    _add_endpoint_writes(workspace, state)
    _add_deployment_reads(workspace, state)
    _add_deployment_writes(workspace, state)
    router = APIRouter()
    router.include_router(workspace)
    _add_operation_routes(router, state)
    return router


def _add_endpoint_reads(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.get(WORKSPACE)
    def get_workspace(request: Request) -> JsonDict:
        return workspace_resource(config, str(request.base_url))

    @router.get(WORKSPACE + "/onlineEndpoints")
    def list_endpoints(request: Request) -> JsonDict:
        with state.locked() as data:
            base = str(request.base_url)
            return {"value": [with_urls(e, base) for e in data["endpoints"].values()]}

    @router.get(ENDPOINT)
    def get_endpoint(endpoint: str, request: Request) -> JsonDict:
        with state.locked() as data:
            return with_urls(find_endpoint(config, data, endpoint), str(request.base_url))

    @router.post(ENDPOINT + "/listKeys")
    def list_keys(endpoint: str) -> JsonDict:
        with state.locked() as data:
            find_endpoint(config, data, endpoint)
            return dict(data["keys"][endpoint])

    @router.post(ENDPOINT + "/token")
    def get_token(endpoint: str) -> JsonDict:
        with state.locked() as data:
            find_endpoint(config, data, endpoint)
            now = int(time.time())
            return {
                "accessToken": data["keys"][endpoint]["primaryKey"],
                "expiryTimeUtc": now + 3600,
                "refreshAfterTimeUtc": now + 1800,
                "tokenType": "Bearer",
            }


def _add_endpoint_writes(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.put(ENDPOINT)
    def put_endpoint(endpoint: str, body: Payload, request: Request) -> Response:
        check_name("Endpoint", endpoint)
        with state.locked() as data:
            existing = data["endpoints"].get(endpoint)
            traffic = valid_traffic(data, endpoint, body)
            resource = endpoint_resource(config, endpoint, body, existing)
            op = state.start_operation("update-endpoint", endpoint)
            op["traffic"] = traffic  # the traffic changes when the operation ends
            if existing is None:
                data["keys"][endpoint] = {
                    "primaryKey": secrets.token_urlsafe(24),
                    "secondaryKey": secrets.token_urlsafe(24),
                }
            data["endpoints"][endpoint] = resource
            headers = _lro_headers(request, config, op["id"], "mfeOperationsStatus")
            answer = with_urls(resource, str(request.base_url))
            return JSONResponse(answer, status_code=200 if existing else 201, headers=headers)

    @router.delete(ENDPOINT)
    def delete_endpoint(endpoint: str, request: Request) -> Response:
        with state.locked() as data:
            if endpoint not in data["endpoints"]:
                return Response(status_code=204)
            data["endpoints"][endpoint]["properties"]["provisioningState"] = "Deleting"
            op = state.start_operation("delete-endpoint", endpoint)
            headers = _lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)


def _add_deployment_reads(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.get(ENDPOINT + "/deployments")
    def list_deployments(endpoint: str) -> JsonDict:
        with state.locked() as data:
            find_endpoint(config, data, endpoint)
            return {"value": list(data["deployments"].get(endpoint, {}).values())}

    @router.get(DEPLOYMENT)
    def get_deployment(endpoint: str, deployment: str) -> JsonDict:
        with state.locked() as data:
            return dict(find_deployment(config, data, endpoint, deployment))


def _add_deployment_writes(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.put(DEPLOYMENT)
    def put_deployment(endpoint: str, deployment: str, body: Payload, request: Request) -> Response:
        check_name("Deployment", deployment)
        with state.locked() as data:
            find_endpoint(config, data, endpoint)
            check_model(data, body)
            existing = data["deployments"].get(endpoint, {}).get(deployment)
            resource = deployment_resource(config, endpoint, deployment, body, existing)
            data["deployments"].setdefault(endpoint, {})[deployment] = resource
            op = state.start_operation("provision", endpoint, deployment)
            headers = _lro_headers(request, config, op["id"], "mfeOperationsStatus")
            return JSONResponse(resource, status_code=200 if existing else 201, headers=headers)

    @router.delete(DEPLOYMENT)
    def delete_deployment(endpoint: str, deployment: str, request: Request) -> Response:
        with state.locked() as data:
            resource = data["deployments"].get(endpoint, {}).get(deployment)
            if resource is None:
                return Response(status_code=204)
            traffic = find_endpoint(config, data, endpoint)["properties"]["traffic"]
            if traffic.get(deployment, 0) > 0:
                raise ArmError(
                    400,
                    "BadArgument",
                    f"Deployment {deployment} receives {traffic[deployment]}% of the traffic "
                    f"of endpoint {endpoint}; set its traffic to 0 before deleting it.",
                )
            resource["properties"]["provisioningState"] = "Deleting"
            op = state.start_operation("delete-deployment", endpoint, deployment)
            headers = _lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)


def _add_operation_routes(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.get(OPERATIONS + "/mfeOperationsStatus/{op_id}")
    def operation_status(subscription: str, location: str, op_id: str) -> Response:
        with state.locked():
            op = state.operation(op_id)
        body = {"id": op_id, "name": op_id, "status": op["status"], "startTime": op["startTime"]}
        body.update({k: op[k] for k in ("endTime", "error") if k in op})
        headers = retry_after(config) if op["status"] == "InProgress" else {}
        return JSONResponse(body, headers=headers)

    @router.get(OPERATIONS + "/mfeOperationResults/{op_id}")
    def operation_result(
        subscription: str, location: str, op_id: str, request: Request
    ) -> Response:
        with state.locked():
            op = state.operation(op_id)
        if op["status"] == "InProgress":
            headers = {"Location": str(request.url), **retry_after(config)}
            return Response(status_code=202, headers=headers)
        if op["status"] == "Failed":
            raise ArmError(500, op["error"]["code"], op["error"]["message"])
        return Response(status_code=200)
