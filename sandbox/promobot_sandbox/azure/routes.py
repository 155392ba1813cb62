"""Paths of the Resource Manager routes, and the headers of long-running operations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.resources import check_workspace

WORKSPACE = (
    "/subscriptions/{subscription}/resourceGroups/{group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
)
ENDPOINT = WORKSPACE + "/onlineEndpoints/{endpoint}"
DEPLOYMENT = ENDPOINT + "/deployments/{deployment}"
LOCATION = (
    "/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/locations/{location}"
)


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


def lro_headers(
    request: Request, config: SandboxAzureConfig, op_id: str, kind: str
) -> dict[str, str]:
    """`Azure-AsyncOperation` (for `mfeOperationsStatus`) or `Location` (for
    `mfeOperationResults`) pointing at the operation, and when to poll it."""
    base = str(request.base_url).rstrip("/")
    scope = LOCATION.format(subscription=config.subscription_id, location=config.location)
    url = f"{base}{scope}/{kind}/{op_id}?api-version={request.query_params.get('api-version', '')}"
    header = "Azure-AsyncOperation" if kind == "mfeOperationsStatus" else "Location"
    return {header: url, **retry_after(config)}
