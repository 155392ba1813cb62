"""ARM resource bodies of the sandbox, and the checks Azure makes before accepting a write."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from promobot_sandbox.azure.base import ArmError, JsonDict
from promobot_sandbox.azure.config import SandboxAzureConfig

# "Begin with a letter, be 3-32 characters in length, only consist of letters and
# numbers"; "single dashes like my-endpoint-name are accepted"
# (https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-online-endpoints-and-batch-endpoints).
_NAME = re.compile(r"^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
# "Each resource, resource group, and subscription can have a maximum of 50 tag
# name-value pairs"; names up to 512 characters, values up to 256
# (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations).
MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256
_BUSY = ("Creating", "Updating", "Deleting")
_MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
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


def system_data(now: str, created: str | None = None) -> JsonDict:
    """ARM's `systemData` block, modified `now`."""
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


def check_name(kind: str, name: str) -> None:
    """400 unless the endpoint or deployment name follows Azure ML's naming rules."""
    if not _NAME.match(name):
        raise ArmError(
            400,
            "BadArgument",
            f"{kind} name '{name}' is invalid: it must be 3 to 32 characters, start with a "
            "letter, end with a letter or digit, and contain only letters, digits and "
            "single '-'.",
        )


def check_name_available(taken: list[str], name: str) -> None:
    """400 when another customer's endpoint in the region has this name.

    "Endpoint names must be unique within an Azure region"
    (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-online-endpoints#define-an-endpoint);
    the refusal is a validation error when the endpoint is created, worded as in
    https://github.com/Azure/azureml-examples/pull/1931.
    """
    if name.lower() not in {t.lower() for t in taken}:
        return
    problem = {
        "errors": {
            "": [
                "There is already an endpoint with this name, Endpoint name needs to be "
                "unique within a region. Try some other name."
            ]
        },
        "title": "One or more validation errors occurred.",
    }
    detail = {
        "code": "InferencingClientCallFailed",
        "message": json.dumps(problem),
        "details": [],
        "additionalInfo": [],
    }
    raise ArmError(400, "BadRequest", "The request is invalid.", details=[detail])


def check_tags(kind: str, name: str, tags: JsonDict) -> None:
    """400 for more tags, or longer tag names or values, than ARM allows on a resource."""
    if len(tags) > MAX_TAGS:
        raise ArmError(
            400,
            "BadRequest",
            f"{kind} '{name}' has {len(tags)} tags; a resource can have at most {MAX_TAGS} "
            "tag name-value pairs.",
        )
    for key, value in tags.items():
        if len(key) > MAX_TAG_NAME or len(str(value)) > MAX_TAG_VALUE:
            raise ArmError(
                400,
                "BadRequest",
                f"Tag '{key[:40]}' of {kind} '{name}' is too long: tag names are limited to "
                f"{MAX_TAG_NAME} characters and values to {MAX_TAG_VALUE}.",
            )


def check_not_busy(resource: JsonDict | None) -> None:
    """409 for a write on an endpoint or deployment whose last operation still runs.

    "When an operation is already in progress, any new operation on that same online
    endpoint responds with a 409 conflict error"
    (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#common-error-codes-for-kubernetes-online-endpoints),
    as ARM does for any resource whose provisioning state is not terminal.
    """
    if resource is None:
        return
    state = resource["properties"].get("provisioningState")
    if state in _BUSY:
        raise ArmError(
            409,
            "Conflict",
            f"Cannot modify resource with id '{resource['id']}' because the resource entity "
            "provisioning state is not terminal. Please wait for the provisioning state to "
            "become terminal and then retry the request.",
        )


def check_endpoint_settled(endpoint: JsonDict, verb: str) -> None:
    """409 for a write on a deployment while its endpoint is being created or updated,
    in the words of https://github.com/Azure/azure-sdk-for-net/issues/36961."""
    state = endpoint["properties"].get("provisioningState")
    if state in _BUSY:
        raise ArmError(
            409,
            "Conflict",
            f"Cannot {verb} a deployment in endpoint {endpoint['name']} because it is in "
            f"{state} provisioning state.",
        )


def find_endpoint(config: SandboxAzureConfig, data: JsonDict, name: str) -> JsonDict:
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


def find_deployment(
    config: SandboxAzureConfig, data: JsonDict, endpoint: str, name: str
) -> JsonDict:
    find_endpoint(config, data, endpoint)
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


def valid_traffic(data: JsonDict, endpoint: str, body: JsonDict) -> dict[str, int]:
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


def check_model(data: JsonDict, body: JsonDict) -> None:
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


def workspace_resource(config: SandboxAzureConfig, base_url: str, now: str) -> JsonDict:
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
        "systemData": system_data(now),
    }


def with_urls(endpoint: JsonDict, base_url: str) -> JsonDict:
    """The endpoint as served: its scoring URIs point at wherever the sandbox listens now."""
    base = base_url.rstrip("/")
    name = endpoint["name"]
    props = {
        **endpoint["properties"],
        "scoringUri": f"{base}/inference/{name}/score",
        "swaggerUri": f"{base}/inference/{name}/swagger.json",
    }
    return {**endpoint, "properties": props}


def endpoint_resource(
    config: SandboxAzureConfig, name: str, body: JsonDict, existing: JsonDict | None, now: str
) -> JsonDict:
    """The endpoint for a create-or-update body; its traffic changes when the operation ends."""
    props = dict(body.get("properties") or {})
    old_props = existing["properties"] if existing else {}
    props.update(
        {
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
        "systemData": system_data(now, existing["systemData"]["createdAt"] if existing else None),
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
    config: SandboxAzureConfig,
    where: tuple[str, str],
    body: JsonDict,
    existing: JsonDict | None,
    now: str,
) -> JsonDict:
    """The deployment resource for a create-or-update body, provisioning from now."""
    endpoint, name = where
    props = {**DEPLOYMENT_DEFAULTS, **(body.get("properties") or {})}
    props["provisioningState"] = "Updating" if existing else "Creating"
    return {
        "id": f"{config.workspace_path}/onlineEndpoints/{endpoint}/deployments/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "properties": props,
        "systemData": system_data(now, existing["systemData"]["createdAt"] if existing else None),
        "tags": dict(body.get("tags") or {}),
        "location": body.get("location") or config.location,
        "kind": body.get("kind") or "Managed",
        "sku": body.get("sku") or {"name": "Default", "tier": "Standard", "capacity": 1},
    }
