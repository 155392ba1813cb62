"""Azure Resource Manager routes for a workspace and its online endpoints, the operations
they start, and the region's usages and VM sizes.

Writes follow ARM's long-running-operation protocol: a PUT answers 200/201 with the
resource in `Creating`/`Updating` and an `Azure-AsyncOperation` URL to poll; a PATCH or
DELETE answers 202 with a `Location` URL that returns 202 until the operation is over
(https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/async-api-reference.md).
Before accepting a write, the sandbox makes the checks Azure makes synchronously: names,
tags, names taken in the region, operations still running.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from promobot_sandbox.azure import deployments
from promobot_sandbox.azure.quota import usages, vm_sizes
from promobot_sandbox.azure.resources import (
    check_name,
    check_name_available,
    check_not_busy,
    check_tags,
    endpoint_resource,
    find_endpoint,
    valid_traffic,
    with_urls,
    workspace_resource,
)
from promobot_sandbox.azure.routes import (
    ENDPOINT,
    LOCATION,
    WORKSPACE,
    lro_headers,
    retry_after,
    workspace_router,
)
from promobot_sandbox.azure.state import ArmError, JsonDict, SandboxState

Payload = Annotated[dict[str, Any], Body()]
__all__ = ["WORKSPACE", "build_router", "workspace_router"]


def build_router(state: SandboxState) -> APIRouter:
    """Routes for the workspace, its online endpoints, deployments, operations and region."""
    workspace = workspace_router(state.config)
    _add_endpoint_reads(workspace, state)
    _add_endpoint_writes(workspace, state)
    deployments.add_routes(workspace, state)
    router = APIRouter()
    router.include_router(workspace)
    _add_operation_routes(router, state)
    _add_location_routes(router, state)
    return router


def _add_endpoint_reads(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.get(WORKSPACE)
    def get_workspace(request: Request) -> JsonDict:
        return workspace_resource(config, str(request.base_url), state.clock.iso())

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
            now = int(state.clock.now())
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
            check_not_busy(existing)
            if existing is None:
                check_name_available(state.seed.taken_endpoint_names, endpoint)
            check_tags("Endpoint", endpoint, dict(body.get("tags") or {}))
            traffic = valid_traffic(data, endpoint, body)
            resource = endpoint_resource(config, endpoint, body, existing, state.clock.iso())
            seconds = config.duration("endpoint_update" if existing else "endpoint_create")
            op = state.start_operation("update-endpoint", seconds, endpoint)
            op["traffic"] = traffic  # the traffic changes when the operation ends
            if existing is None:
                data["keys"][endpoint] = {
                    "primaryKey": secrets.token_urlsafe(24),
                    "secondaryKey": secrets.token_urlsafe(24),
                }
            data["endpoints"][endpoint] = resource
            headers = lro_headers(request, config, op["id"], "mfeOperationsStatus")
            answer = with_urls(resource, str(request.base_url))
            return JSONResponse(answer, status_code=200 if existing else 201, headers=headers)

    @router.patch(ENDPOINT)
    def patch_endpoint(endpoint: str, body: Payload, request: Request) -> Response:
        with state.locked() as data:
            resource = find_endpoint(config, data, endpoint)
            check_not_busy(resource)
            if "tags" in body:
                check_tags("Endpoint", endpoint, dict(body.get("tags") or {}))
                resource["tags"] = dict(body.get("tags") or {})
            if body.get("identity"):
                resource["identity"].update({"type": body["identity"].get("type") or "None"})
            resource["properties"]["provisioningState"] = "Updating"
            duration = config.duration("endpoint_update")
            op = state.start_operation("update-endpoint", duration, endpoint)
            op["traffic"] = dict(resource["properties"].get("traffic") or {})
            headers = lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)

    @router.delete(ENDPOINT)
    def delete_endpoint(endpoint: str, request: Request) -> Response:
        with state.locked() as data:
            resource = data["endpoints"].get(endpoint)
            if resource is None:
                return Response(status_code=204)
            check_not_busy(resource)
            resource["properties"]["provisioningState"] = "Deleting"
            duration = config.duration("endpoint_delete")
            op = state.start_operation("delete-endpoint", duration, endpoint)
            headers = lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)


def _add_operation_routes(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.get(LOCATION + "/mfeOperationsStatus/{op_id}")
    def operation_status(op_id: str) -> Response:
        with state.locked():
            op = state.operation(op_id)
        body = {"id": op_id, "name": op_id, "status": op["status"], "startTime": op["startTime"]}
        body.update({k: op[k] for k in ("endTime", "error") if k in op})
        headers = retry_after(config) if op["status"] == "InProgress" else {}
        return JSONResponse(body, headers=headers)

    @router.get(LOCATION + "/mfeOperationResults/{op_id}")
    def operation_result(op_id: str, request: Request) -> Response:
        with state.locked():
            op = state.operation(op_id)
        if op["status"] == "InProgress":
            headers = {"Location": str(request.url), **retry_after(config)}
            return Response(status_code=202, headers=headers)
        if op["status"] == "Failed":
            raise ArmError(500, op["error"]["code"], op["error"]["message"])
        return Response(status_code=200)


def _add_location_routes(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    def in_subscription(subscription: str) -> None:
        if subscription.lower() != config.subscription_id.lower():
            raise ArmError(
                404,
                "SubscriptionNotFound",
                f"The subscription '{subscription}' could not be found.",
            )

    located = APIRouter(dependencies=[Depends(in_subscription)])

    @located.get(LOCATION + "/usages")
    def list_usages(location: str) -> JsonDict:
        # What `MLClient.compute.list_usage()` reads
        # (azure/ai/ml/operations/_compute_operations.py).
        with state.locked() as data:
            found = usages(state.seed.quota, data, config.subscription_id, location)
        return {"value": found, "nextLink": None}

    @located.get(LOCATION + "/vmSizes")
    def list_vm_sizes() -> JsonDict:
        # What `MLClient.compute.list_sizes()` reads.
        return {"value": vm_sizes()}

    router.include_router(located)
