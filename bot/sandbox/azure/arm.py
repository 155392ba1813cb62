"""Azure Resource Manager routes for a workspace's online endpoints and deployments.

Writes follow ARM's long-running-operation protocol: a PUT answers 200/201 with the
resource in `Creating`/`Updating` and an `Azure-AsyncOperation` URL to poll; a DELETE
answers 202 with a `Location` URL that returns 202 until the resource is gone.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse

from bot.sandbox.azure.config import SandboxAzureConfig
from bot.sandbox.azure.state import ArmError, JsonDict, SandboxState, utc_now

WORKSPACE = (
    "/subscriptions/{subscription}/resourceGroups/{group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
)
OPERATIONS = (
    "/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/locations/{location}"
)
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
_MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
Payload = Annotated[dict[str, Any], Body()]
_PROBE = {
    "failureThreshold": 30,
    "successThreshold": 1,
    "timeout": "PT2S",
    "period": "PT10S",
    "initialDelay": "PT10S",
}
DEPLOYMENT_DEFAULTS: dict[str, Any] = {
    "endpointComputeType": "Managed",
    "properties": {},
    "environmentVariables": {},
    "scaleSettings": {"scaleType": "Default"},
    "requestSettings": {
        "maxQueueWait": "PT0.5S",
        "requestTimeout": "PT5S",
        "maxConcurrentRequestsPerInstance": 1,
    },
    "appInsightsEnabled": False,
    "egressPublicNetworkAccess": "Enabled",
    "livenessProbe": _PROBE,
    "readinessProbe": _PROBE,
}
"""What Azure fills in when a create-or-update body leaves these out."""


def system_data(created: str | None = None) -> JsonDict:
    """ARM's `systemData` block."""
    now = utc_now()
    return {
        "createdAt": created or now,
        "createdBy": "sandbox-user",
        "createdByType": "User",
        "lastModifiedAt": now,
        "lastModifiedBy": "sandbox-user",
        "lastModifiedByType": "User",
    }


def check_workspace(config: SandboxAzureConfig, subscription: str, group: str, ws: str) -> None:
    """404 in ARM's words unless the path names the sandbox's workspace."""
    if subscription.lower() != config.subscription_id.lower():
        raise ArmError(
            404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found."
        )
    if group.lower() != config.resource_group.lower():
        raise ArmError(
            404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
        )
    if ws.lower() != config.workspace.lower():
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}' under resource "
            f"group '{group}' was not found.",
        )


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ArmError(
            400,
            "BadArgument",
            f"{kind} name '{name}' is invalid: it must be 3 to 32 characters, start with a "
            "letter, end with a letter or digit, and contain only letters, digits and '-'.",
        )


def _lro_headers(
    request: Request, config: SandboxAzureConfig, op_id: str, kind: str
) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    scope = OPERATIONS.format(subscription=config.subscription_id, location=config.location)
    url = f"{base}{scope}/{kind}/{op_id}?api-version={request.query_params.get('api-version', '')}"
    header = "Azure-AsyncOperation" if kind == "mfeOperationsStatus" else "Location"
    return {header: url, **retry_after(config)}


def retry_after(config: SandboxAzureConfig) -> dict[str, str]:
    """When to poll again: whole seconds in `Retry-After`, else Azure's `retry-after-ms`."""
    ms = config.poll_after_ms
    if ms % 1000 == 0:
        return {"Retry-After": str(ms // 1000)}
    return {"retry-after-ms": str(ms)}


def build_router(state: SandboxState) -> APIRouter:
    """Routes for the workspace, its online endpoints, deployments and operations."""
    config = state.config
    router = APIRouter()

    @router.get(WORKSPACE)
    def get_workspace(subscription: str, group: str, workspace: str, request: Request) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        return workspace_resource(config, str(request.base_url))

    @router.get(WORKSPACE + "/onlineEndpoints")
    def list_endpoints(subscription: str, group: str, workspace: str) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            return {"value": list(data["endpoints"].values())}

    @router.get(WORKSPACE + "/onlineEndpoints/{endpoint}")
    def get_endpoint(subscription: str, group: str, workspace: str, endpoint: str) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            return dict(_endpoint(config, data, endpoint))

    @router.put(WORKSPACE + "/onlineEndpoints/{endpoint}")
    def put_endpoint(
        *,
        subscription: str,
        group: str,
        workspace: str,
        endpoint: str,
        body: Payload,
        request: Request,
    ) -> Response:
        check_workspace(config, subscription, group, workspace)
        _check_name("Endpoint", endpoint)
        with state.locked() as data:
            existing = data["endpoints"].get(endpoint)
            traffic = _valid_traffic(data, endpoint, body)
            resource = endpoint_resource(config, endpoint, body, str(request.base_url), existing)
            op = state.start_operation("update-endpoint", endpoint)
            if existing is None:
                resource["properties"]["traffic"] = {}
                data["keys"][endpoint] = {
                    "primaryKey": secrets.token_urlsafe(24),
                    "secondaryKey": secrets.token_urlsafe(24),
                }
            op["traffic"] = traffic
            data["endpoints"][endpoint] = resource
            headers = _lro_headers(request, config, op["id"], "mfeOperationsStatus")
            return JSONResponse(resource, status_code=200 if existing else 201, headers=headers)

    @router.delete(WORKSPACE + "/onlineEndpoints/{endpoint}")
    def delete_endpoint(
        subscription: str, group: str, workspace: str, endpoint: str, request: Request
    ) -> Response:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            if endpoint not in data["endpoints"]:
                return Response(status_code=204)
            data["endpoints"][endpoint]["properties"]["provisioningState"] = "Deleting"
            op = state.start_operation("delete-endpoint", endpoint)
            headers = _lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)

    @router.post(WORKSPACE + "/onlineEndpoints/{endpoint}/listKeys")
    def list_keys(subscription: str, group: str, workspace: str, endpoint: str) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            _endpoint(config, data, endpoint)
            return dict(data["keys"][endpoint])

    @router.post(WORKSPACE + "/onlineEndpoints/{endpoint}/token")
    def get_token(subscription: str, group: str, workspace: str, endpoint: str) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            _endpoint(config, data, endpoint)
            now = int(time.time())
            return {
                "accessToken": data["keys"][endpoint]["primaryKey"],
                "expiryTimeUtc": now + 3600,
                "refreshAfterTimeUtc": now + 1800,
                "tokenType": "Bearer",
            }

    _add_deployment_routes(router, state)
    _add_operation_routes(router, state)
    return router


def _add_deployment_routes(router: APIRouter, state: SandboxState) -> None:
    config = state.config
    prefix = WORKSPACE + "/onlineEndpoints/{endpoint}/deployments"

    @router.get(prefix)
    def list_deployments(subscription: str, group: str, workspace: str, endpoint: str) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            _endpoint(config, data, endpoint)
            return {"value": list(data["deployments"].get(endpoint, {}).values())}

    @router.get(prefix + "/{deployment}")
    def get_deployment(
        subscription: str, group: str, workspace: str, endpoint: str, deployment: str
    ) -> JsonDict:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            return dict(_deployment(config, data, endpoint, deployment))

    @router.put(prefix + "/{deployment}")
    def put_deployment(
        *,
        subscription: str,
        group: str,
        workspace: str,
        endpoint: str,
        deployment: str,
        body: Payload,
        request: Request,
    ) -> Response:
        check_workspace(config, subscription, group, workspace)
        _check_name("Deployment", deployment)
        with state.locked() as data:
            _endpoint(config, data, endpoint)
            _check_model(data, body)
            existing = data["deployments"].get(endpoint, {}).get(deployment)
            resource = deployment_resource(config, endpoint, deployment, body, existing)
            data["deployments"].setdefault(endpoint, {})[deployment] = resource
            op = state.start_operation("provision", endpoint, deployment)
            headers = _lro_headers(request, config, op["id"], "mfeOperationsStatus")
            return JSONResponse(resource, status_code=200 if existing else 201, headers=headers)

    @router.delete(prefix + "/{deployment}")
    def delete_deployment(
        *,
        subscription: str,
        group: str,
        workspace: str,
        endpoint: str,
        deployment: str,
        request: Request,
    ) -> Response:
        check_workspace(config, subscription, group, workspace)
        with state.locked() as data:
            resource = data["deployments"].get(endpoint, {}).get(deployment)
            if resource is None:
                return Response(status_code=204)
            share = _endpoint(config, data, endpoint)["properties"]["traffic"].get(deployment, 0)
            if share > 0:
                raise ArmError(
                    400,
                    "BadArgument",
                    f"Deployment {deployment} receives {share}% of the traffic of endpoint "
                    f"{endpoint}; set its traffic to 0 before deleting it.",
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
        if "endTime" in op:
            body["endTime"] = op["endTime"]
        if "error" in op:
            body["error"] = op["error"]
        headers = retry_after(config) if op["status"] == "InProgress" else {}
        return JSONResponse(body, headers=headers)

    @router.get(OPERATIONS + "/mfeOperationResults/{op_id}")
    def operation_result(
        subscription: str, location: str, op_id: str, request: Request
    ) -> Response:
        with state.locked():
            op = state.operation(op_id)
        if op["status"] == "InProgress":
            return Response(
                status_code=202, headers={"Location": str(request.url), **retry_after(config)}
            )
        if op["status"] == "Failed":
            raise ArmError(500, op["error"]["code"], op["error"]["message"])
        return Response(status_code=200)


def _endpoint(config: SandboxAzureConfig, data: JsonDict, name: str) -> JsonDict:
    resource: JsonDict | None = data["endpoints"].get(name)
    if resource is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.MachineLearningServices/workspaces/{config.workspace}/"
            f"onlineEndpoints/{name}' under resource group '{config.resource_group}' "
            "was not found.",
        )
    return resource


def _deployment(config: SandboxAzureConfig, data: JsonDict, endpoint: str, name: str) -> JsonDict:
    _endpoint(config, data, endpoint)
    resource: JsonDict | None = data["deployments"].get(endpoint, {}).get(name)
    if resource is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.MachineLearningServices/workspaces/{config.workspace}/"
            f"onlineEndpoints/{endpoint}/deployments/{name}' under resource group "
            f"'{config.resource_group}' was not found.",
        )
    return resource


def _valid_traffic(data: JsonDict, endpoint: str, body: JsonDict) -> dict[str, int]:
    traffic = {k: int(v) for k, v in ((body.get("properties") or {}).get("traffic") or {}).items()}
    deployments = data["deployments"].get(endpoint, {})
    for name, share in traffic.items():
        if not 0 <= share <= 100:
            raise ArmError(400, "BadArgument", f"Traffic of deployment {name} must be 0-100.")
        if name not in deployments:
            raise ArmError(
                400, "BadArgument", f"Deployment {name} does not exist in endpoint {endpoint}."
            )
        state = deployments[name]["properties"].get("provisioningState")
        if share > 0 and state != "Succeeded":
            raise ArmError(
                400,
                "BadArgument",
                f"Traffic cannot be routed to deployment {name}: "
                f"its provisioning state is {state}.",
            )
    if traffic and sum(traffic.values()) not in (0, 100):
        raise ArmError(
            400,
            "BadArgument",
            f"Traffic values must add up to 0 or 100, got {sum(traffic.values())}.",
        )
    return traffic


def _check_model(data: JsonDict, body: JsonDict) -> None:
    reference = str((body.get("properties") or {}).get("model") or "")
    found = _MODEL_ID.search(reference)
    if not found:
        raise ArmError(
            400, "BadArgument", f"Model reference '{reference}' is not a model version id."
        )
    versions = data["models"].get(found["name"], {}).get("versions", {})
    if found["version"] not in versions:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"Model {found['name']} version {found['version']} was not found.",
        )


def workspace_resource(config: SandboxAzureConfig, base_url: str) -> JsonDict:
    """The workspace as ARM describes it, with an MLflow tracking URI served by the sandbox."""
    host = base_url.split("://", 1)[1].rstrip("/")
    return {
        "id": config.workspace_path,
        "name": config.workspace,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": config.location,
        "kind": "Default",
        "tags": {},
        "identity": {
            "type": "SystemAssigned",
            "principalId": str(uuid.UUID(int=1)),
            "tenantId": str(uuid.UUID(int=2)),
        },
        "sku": {"name": "Basic", "tier": "Basic"},
        "properties": {
            "friendlyName": config.workspace,
            "workspaceId": str(uuid.UUID(int=3)),
            "provisioningState": "Succeeded",
            "discoveryUrl": f"{base_url.rstrip('/')}/discovery",
            "mlFlowTrackingUri": f"azureml://{host}/mlflow/v1.0{config.workspace_path}",
            "publicNetworkAccess": "Enabled",
        },
        "systemData": system_data(),
    }


def endpoint_resource(
    config: SandboxAzureConfig, name: str, body: JsonDict, base_url: str, existing: JsonDict | None
) -> JsonDict:
    """The endpoint for a create-or-update body; its traffic changes when the operation ends."""
    props = dict(body.get("properties") or {})
    base = base_url.rstrip("/")
    old_props = existing["properties"] if existing else {}
    props.update(
        {
            "scoringUri": f"{base}/inference/{name}/score",
            "swaggerUri": f"{base}/inference/{name}/swagger.json",
            "authMode": props.get("authMode") or "Key",
            "provisioningState": "Updating" if existing else "Creating",
            "traffic": dict(old_props.get("traffic") or {}),
            "mirrorTraffic": dict(props.get("mirrorTraffic") or {}),
            "publicNetworkAccess": props.get("publicNetworkAccess") or "Enabled",
        }
    )
    return {
        "id": f"{config.workspace_path}/onlineEndpoints/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "properties": props,
        "systemData": system_data(existing["systemData"]["createdAt"] if existing else None),
        "tags": dict(body.get("tags") or {}),
        "location": body.get("location") or config.location,
        "kind": body.get("kind") or "Managed",
        "identity": {
            "type": (body.get("identity") or {}).get("type") or "SystemAssigned",
            "principalId": str(uuid.UUID(int=4)),
            "tenantId": str(uuid.UUID(int=2)),
        },
    }


def deployment_resource(
    config: SandboxAzureConfig, endpoint: str, name: str, body: JsonDict, existing: JsonDict | None
) -> JsonDict:
    """The deployment resource for a create-or-update body, provisioning from now."""
    props = {**DEPLOYMENT_DEFAULTS, **(body.get("properties") or {})}
    props["provisioningState"] = "Updating" if existing else "Creating"
    return {
        "id": f"{config.workspace_path}/onlineEndpoints/{endpoint}/deployments/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "properties": props,
        "systemData": system_data(existing["systemData"]["createdAt"] if existing else None),
        "tags": dict(body.get("tags") or {}),
        "location": body.get("location") or config.location,
        "kind": body.get("kind") or "Managed",
        "sku": body.get("sku") or {"name": "Default", "tier": "Standard", "capacity": 1},
    }
