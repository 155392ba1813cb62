"""Azure DevOps Pipelines routes: resource locations, run a pipeline, get and list runs.

The azure-devops SDK first asks `OPTIONS /{organization}/_apis` where each resource
lives (id, route template, versions) and then builds URLs from those templates, so
the sandbox answers that discovery call too. A run stays `inProgress` for
`pipeline_seconds`, then completes `succeeded` unless a pipeline fault says otherwise.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from promobot_sandbox.azure.faults import FaultBook
from promobot_sandbox.azure.state import JsonDict, SandboxState, utc_now

RUNS_LOCATION = "7859261e-d2e9-4a68-b820-a5d84cc5bb3d"
PIPELINES_LOCATION = "28e1305e-2afe-47bf-abaf-cbb0e6a91988"
RUNS = "/{organization}/{project}/_apis/pipelines/{pipeline_id}/runs"
Payload = Annotated[dict[str, Any], Body()]
_LOCATIONS = [
    (RUNS_LOCATION, "runs", "{project}/_apis/pipelines/{pipelineId}/runs/{runId}"),
    (PIPELINES_LOCATION, "pipelines", "{project}/_apis/pipelines/{pipelineId}"),
]


class DevOpsError(Exception):
    """An error answered as Azure DevOps' `WrappedException`."""

    def __init__(self, status: int, type_name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type_name = type_name
        self.message = message

    def body(self) -> JsonDict:
        """The JSON body Azure DevOps sends with an error."""
        return {
            "$id": "1",
            "innerException": None,
            "message": self.message,
            "typeName": f"Microsoft.Azure.Pipelines.WebApi.{self.type_name}, "
            "Microsoft.Azure.Pipelines.WebApi",
            "typeKey": self.type_name,
            "errorCode": 0,
            "eventId": 3000,
        }


def build_router(state: SandboxState, faults: FaultBook) -> APIRouter:
    """Routes for the sandbox's Azure DevOps organization."""
    config = state.config

    def in_organization(organization: str) -> None:
        if organization.lower() != config.devops_organization.lower():
            raise DevOpsError(
                404, "OrganizationNotFoundException", f"Organization {organization} not found."
            )

    router = APIRouter(dependencies=[Depends(in_organization)])

    @router.options("/{organization}/_apis")
    def resource_locations() -> JsonDict:
        value = [
            {
                "id": location_id,
                "area": "pipelines",
                "resourceName": resource,
                "routeTemplate": template,
                "resourceVersion": 1,
                "minVersion": 6.0,
                "maxVersion": 7.1,
                "releasedVersion": "0.0",
            }
            for location_id, resource, template in _LOCATIONS
        ]
        return {"count": len(value), "value": value}

    _add_run_routes(router, state, faults)
    return router


def _add_run_routes(router: APIRouter, state: SandboxState, faults: FaultBook) -> None:
    config = state.config

    @router.post(RUNS)
    def run_pipeline(
        organization: str, project: str, pipeline_id: int, body: Payload, request: Request
    ) -> JsonDict:
        fault = faults.take_pipeline(pipeline_id)
        with state.locked() as data:
            run_id = state.next_run_id()
            run = {
                "id": run_id,
                "name": f"{dt.datetime.now(dt.UTC):%Y%m%d}.{run_id}",
                "state": "inProgress",
                "createdDate": utc_now(),
                "templateParameters": dict(body.get("templateParameters") or {}),
                "variables": dict(body.get("variables") or {}),
                "due": time.time()
                + (
                    fault.seconds
                    if fault and fault.seconds is not None
                    else config.pipeline_seconds
                ),
                "outcome": fault.result if fault else "succeeded",
            }
            data["runs"].setdefault(str(pipeline_id), []).append(run)
            return _public(run, str(request.base_url), organization, project, pipeline_id)

    @router.get(RUNS)
    def list_runs(organization: str, project: str, pipeline_id: int, request: Request) -> JsonDict:
        with state.locked() as data:
            found = [_advance(r) for r in data["runs"].get(str(pipeline_id), [])]
        base = str(request.base_url)
        value = [_public(r, base, organization, project, pipeline_id) for r in reversed(found)]
        return {"count": len(value), "value": value}

    @router.get(RUNS + "/{run_id}")
    def get_run(
        organization: str, project: str, pipeline_id: int, run_id: int, request: Request
    ) -> JsonDict:
        with state.locked() as data:
            for run in data["runs"].get(str(pipeline_id), []):
                if run["id"] == run_id:
                    base = str(request.base_url)
                    return _public(_advance(run), base, organization, project, pipeline_id)
        raise DevOpsError(
            404, "PipelineRunNotFoundException", f"Pipeline run {run_id} was not found."
        )


def _advance(run: JsonDict) -> JsonDict:
    if run["state"] == "inProgress" and run["due"] <= time.time():
        run["state"] = "completed"
        run["result"] = run["outcome"]
        run["finishedDate"] = utc_now()
    return run


def _public(
    run: JsonDict, base_url: str, organization: str, project: str, pipeline_id: int
) -> JsonDict:
    base = base_url.rstrip("/")
    pipeline_url = f"{base}/{organization}/{project}/_apis/pipelines/{pipeline_id}?revision=1"
    url = f"{base}/{organization}/{project}/_apis/pipelines/{pipeline_id}/runs/{run['id']}"
    web_root = f"{base}/{organization}/{project}"
    web = f"{web_root}/_build/results?buildId={run['id']}"
    body = {k: v for k, v in run.items() if k not in ("due", "outcome")}
    body.update(
        {
            "_links": {
                "self": {"href": url},
                "web": {"href": web},
                "pipeline.web": {
                    "href": f"{web_root}/_build/definition?definitionId={pipeline_id}"
                },
                "pipeline": {"href": pipeline_url},
            },
            "pipeline": {
                "url": pipeline_url,
                "id": pipeline_id,
                "revision": 1,
                "name": f"pipeline-{pipeline_id}",
                "folder": "\\",
            },
            "url": url,
            "resources": {
                "repositories": {
                    "self": {"repository": {"type": "azureReposGit"}, "refName": "refs/heads/main"}
                }
            },
        }
    )
    return body
