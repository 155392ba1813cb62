"""The workspace's model registry (ARM model containers and versions) and its MLflow runs.

Azure ML records a training job's metrics in its MLflow-compatible tracking service,
where the MLflow run id is the job name. The sandbox answers MLflow's REST
`runs/get` from a real MLflow store, so clients see MLflow's own JSON.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse, Response
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.proto_json_utils import message_to_json

from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.resources import system_data
from promobot_sandbox.azure.routes import WORKSPACE, workspace_router
from promobot_sandbox.azure.state import ArmError, JsonDict, SandboxState

_VERSION = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
_JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<job>[^/]+)/outputs/")
MODELS = WORKSPACE + "/models"


def build_router(state: SandboxState) -> APIRouter:
    """Routes for model containers, model versions, and MLflow `runs/get`."""
    router = workspace_router(state.config)
    _add_model_reads(router, state)
    _add_version_write(router, state)
    _add_mlflow_route(router, state.config)
    return router


def _add_model_reads(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.get(MODELS)
    def list_models() -> JsonDict:
        with state.locked() as data:
            return {"value": [m["container"] for m in data["models"].values()]}

    @router.get(MODELS + "/{name}")
    def get_model(name: str) -> JsonDict:
        with state.locked() as data:
            return dict(_model(config, data, name)["container"])

    @router.get(MODELS + "/{name}/versions")
    def list_versions(
        name: str,
        order_by: Annotated[str | None, Query(alias="$orderBy")] = None,
        top: Annotated[int | None, Query(alias="$top")] = None,
    ) -> JsonDict:
        with state.locked() as data:
            found = data["models"].get(name)
            versions = list(found["versions"].values()) if found else []
        newest_first = bool(order_by and "desc" in order_by.lower())
        versions.sort(key=lambda v: v["systemData"]["createdAt"], reverse=newest_first)
        return {"value": versions[:top] if top else versions}

    @router.get(MODELS + "/{name}/versions/{version}")
    def get_version(name: str, version: str) -> JsonDict:
        with state.locked() as data:
            found = _model(config, data, name)["versions"].get(version)
            if found is None:
                raise ArmError(404, "UserError", f"Model {name}:{version} not found.")
            return dict(found)


def _add_version_write(router: APIRouter, state: SandboxState) -> None:
    config = state.config

    @router.put(MODELS + "/{name}/versions/{version}")
    def put_version(name: str, version: str, body: Annotated[dict[str, Any], Body()]) -> Response:
        if not _VERSION.match(version):
            raise ArmError(400, "UserError", f"Model version '{version}' is invalid.")
        with state.locked() as data:
            entry = data["models"].setdefault(name, {"container": {}, "versions": {}})
            existing = entry["versions"].get(version)
            now = state.clock.iso()
            resource = version_resource(config, (name, version), body, existing, now)
            entry["versions"][version] = resource
            entry["container"] = container_resource(config, name, entry["versions"], now)
            return JSONResponse(resource, status_code=200 if existing else 201)


def _add_mlflow_route(router: APIRouter, config: SandboxAzureConfig) -> None:
    @router.get("/mlflow/v1.0" + WORKSPACE + "/api/2.0/mlflow/runs/get")
    def get_run(run_id: str) -> Response:
        try:
            run = MlflowClient(tracking_uri=config.tracking_uri).get_run(run_id)
        except MlflowException as exc:
            body = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": exc.message}
            return JSONResponse(body, status_code=404)
        text = message_to_json(run.to_proto())
        return Response(f'{{"run": {text}}}', media_type="application/json")


def _model(config: SandboxAzureConfig, data: JsonDict, name: str) -> JsonDict:
    found: JsonDict | None = data["models"].get(name)
    if found is None:
        raise ArmError(
            404,
            "UserError",
            f"Model container {name} not found in workspace {config.workspace}.",
        )
    return found


def version_resource(
    config: SandboxAzureConfig,
    model: tuple[str, str],
    body: JsonDict,
    existing: JsonDict | None,
    now: str,
) -> JsonDict:
    """A model version as ARM returns it."""
    name, version = model
    props = dict(body.get("properties") or {})
    props.setdefault("modelType", "custom_model")
    props.setdefault("isArchived", False)
    props.setdefault("isAnonymous", False)
    props["flavors"] = dict(props.get("flavors") or {})
    job = _JOB_OUTPUT.match(str(props.get("modelUri") or ""))
    if job and not props.get("jobName"):
        props["jobName"] = job["job"]  # Azure records the lineage of a job's output
    props["provisioningState"] = "Succeeded"
    props["tags"] = dict(props.get("tags") or {})
    props["properties"] = dict(props.get("properties") or {})
    return {
        "id": f"{config.workspace_path}/models/{name}/versions/{version}",
        "name": version,
        "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
        "properties": props,
        "systemData": system_data(now, existing["systemData"]["createdAt"] if existing else None),
    }


def container_resource(
    config: SandboxAzureConfig, name: str, versions: JsonDict, now: str
) -> JsonDict:
    """The model container, with its latest and next version numbers."""
    ordered = sorted(versions.values(), key=lambda v: v["systemData"]["createdAt"])
    numeric = [int(v["name"]) for v in ordered if str(v["name"]).isdigit()]
    return {
        "id": f"{config.workspace_path}/models/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/models",
        "properties": {
            "description": None,
            "tags": {},
            "properties": {},
            "isArchived": False,
            "latestVersion": ordered[-1]["name"],
            "nextVersion": str(max(numeric) + 1) if numeric else "1",
            "provisioningState": "Succeeded",
        },
        "systemData": system_data(now, ordered[0]["systemData"]["createdAt"]),
    }
