"""Resource Manager routes for the deployments of an online endpoint.

A create or update is checked synchronously as Azure checks it: the name, the tags, no
operation running on the deployment or its endpoint, the model (registered, and an
MLflow model when no environment is given), and the VM quota. Provisioning then takes
the configured minutes and may still fail, as a container that does not start does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse

from promobot_sandbox.azure.nocode import check_model_type
from promobot_sandbox.azure.quota import check_quota
from promobot_sandbox.azure.resources import (
    check_endpoint_settled,
    check_model,
    check_name,
    check_not_busy,
    check_tags,
    deployment_resource,
    find_deployment,
    find_endpoint,
)
from promobot_sandbox.azure.routes import DEPLOYMENT, ENDPOINT, lro_headers
from promobot_sandbox.azure.state import ArmError, JsonDict, SandboxState

Payload = Annotated[dict[str, Any], Body()]


def add_routes(router: APIRouter, state: SandboxState) -> None:
    """Read, create, update, delete deployments, and read their logs."""
    _add_reads(router, state)
    _add_put(router, state)
    _add_patch(router, state)
    _add_delete(router, state)


def _add_reads(router: APIRouter, state: SandboxState) -> None:
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

    @router.post(DEPLOYMENT + "/getLogs")
    def get_logs(endpoint: str, deployment: str, body: Payload) -> JsonDict:
        # What `MLClient.online_deployments.get_logs()` reads: the inference server's output.
        with state.locked() as data:
            find_deployment(config, data, endpoint, deployment)
            lines = state.logs(endpoint, deployment).splitlines()
        tail = int(body.get("tail") or len(lines) or 1)
        return {"content": "\n".join(lines[-tail:])}


def _add_put(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.put(DEPLOYMENT)
    def put_deployment(endpoint: str, deployment: str, body: Payload, request: Request) -> Response:
        check_name("Deployment", deployment)
        with state.locked() as data:
            parent = find_endpoint(config, data, endpoint)
            existing = data["deployments"].get(endpoint, {}).get(deployment)
            check_endpoint_settled(parent, "update" if existing else "create")
            check_not_busy(existing)
            check_tags("Deployment", deployment, dict(body.get("tags") or {}))
            check_model(data, body)
            check_model_type(data, body)
            where = (endpoint, deployment)
            check_quota(state.seed.quota, data, config.subscription_id, where, body)
            resource = deployment_resource(config, where, body, existing, state.clock.iso())
            data["deployments"].setdefault(endpoint, {})[deployment] = resource
            seconds = config.duration("deployment_update" if existing else "deployment_create")
            op = state.start_operation("provision", seconds, endpoint, deployment)
            headers = lro_headers(request, config, op["id"], "mfeOperationsStatus")
            return JSONResponse(resource, status_code=200 if existing else 201, headers=headers)


def _add_patch(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.patch(DEPLOYMENT)
    def patch_deployment(
        endpoint: str, deployment: str, body: Payload, request: Request
    ) -> Response:
        with state.locked() as data:
            resource = find_deployment(config, data, endpoint, deployment)
            check_endpoint_settled(data["endpoints"][endpoint], "update")
            check_not_busy(resource)
            if "tags" in body:
                check_tags("Deployment", deployment, dict(body.get("tags") or {}))
                resource["tags"] = dict(body.get("tags") or {})
            if body.get("sku"):
                wanted = {**resource, "sku": {**resource["sku"], **body["sku"]}}
                where = (endpoint, deployment)
                check_quota(state.seed.quota, data, config.subscription_id, where, wanted)
                resource["sku"] = wanted["sku"]
            resource["properties"]["provisioningState"] = "Updating"
            duration = config.duration("deployment_update")
            op = state.start_operation("update-deployment", duration, endpoint, deployment)
            headers = lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)


def _add_delete(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.delete(DEPLOYMENT)
    def delete_deployment(endpoint: str, deployment: str, request: Request) -> Response:
        with state.locked() as data:
            resource = data["deployments"].get(endpoint, {}).get(deployment)
            if resource is None:
                return Response(status_code=204)
            parent = find_endpoint(config, data, endpoint)
            check_endpoint_settled(parent, "delete")
            check_not_busy(resource)
            traffic = parent["properties"]["traffic"]
            if traffic.get(deployment, 0) > 0:
                raise ArmError(
                    400,
                    "BadArgument",
                    f"Deployment {deployment} receives {traffic[deployment]}% of the traffic "
                    f"of endpoint {endpoint}; set its traffic to 0 before deleting it.",
                )
            resource["properties"]["provisioningState"] = "Deleting"
            duration = config.duration("deployment_delete")
            op = state.start_operation("delete-deployment", duration, endpoint, deployment)
            headers = lro_headers(request, config, op["id"], "mfeOperationResults")
            return Response(status_code=202, headers=headers)
