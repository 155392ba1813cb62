"""Azure DevOps Pipelines routes: resource locations, run a pipeline, get and list runs.

The azure-devops SDK first asks `OPTIONS /{organization}/_apis` where each resource
lives (id, route template, versions) and then builds URLs from those templates, so
the sandbox answers that discovery call too. Only seeded pipelines exist, and a run may
only set the runtime parameters its pipeline declares. A run stays `inProgress` for
`pipeline_seconds` of sandbox time, then completes `succeeded` unless a pipeline fault
says otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from promobot_sandbox.azure.faults import FaultBook
from promobot_sandbox.azure.pipelines import PipelineSeed, parameter_problems
from promobot_sandbox.azure.state import JsonDict, SandboxState

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
        pipeline = _pipeline(state, pipeline_id)
        parameters = dict(body.get("templateParameters") or {})
        problems = parameter_problems(pipeline, parameters)
        if problems:
            raise DevOpsError(400, "PipelineValidationException", " ".join(problems))
        fault = faults.take_pipeline(pipeline_id)
        seconds = fault.seconds if fault and fault.seconds is not None else config.pipeline_seconds
        with state.locked() as data:
            run_id = state.next_run_id()
            now = state.clock.now()
            run = {
                "id": run_id,
                "name": f"{dt.datetime.fromtimestamp(now, dt.UTC):%Y%m%d}.{run_id}",
                "state": "inProgress",
                "createdDate": state.clock.iso(now),
                "templateParameters": parameters,
                "variables": dict(body.get("variables") or {}),
                "due": now + seconds,
                "outcome": fault.result if fault else "succeeded",
            }
            data["runs"].setdefault(str(pipeline_id), []).append(run)
            where = _Where(str(request.base_url), organization, project, pipeline)
            return _public(run, where, full=True)

    @router.get(RUNS)
    def list_runs(organization: str, project: str, pipeline_id: int, request: Request) -> JsonDict:
        pipeline = _pipeline(state, pipeline_id)
        with state.locked() as data:
            now = state.clock.now()
            found = [_advance(state, r, now) for r in data["runs"].get(str(pipeline_id), [])]
        where = _Where(str(request.base_url), organization, project, pipeline)
        listed = _listed(found, config.runs_list_limit)
        value = [_public(r, where, full=False) for r in listed]
        return {"count": len(value), "value": value}

    @router.get(RUNS + "/{run_id}")
    def get_run(
        organization: str, project: str, pipeline_id: int, run_id: int, request: Request
    ) -> JsonDict:
        pipeline = _pipeline(state, pipeline_id)
        with state.locked() as data:
            for run in data["runs"].get(str(pipeline_id), []):
                if run["id"] == run_id:
                    where = _Where(str(request.base_url), organization, project, pipeline)
                    return _public(_advance(state, run, state.clock.now()), where, full=True)
        raise DevOpsError(
            404, "PipelineRunNotFoundException", f"Pipeline run {run_id} was not found."
        )


def _pipeline(state: SandboxState, pipeline_id: int) -> PipelineSeed:
    for pipeline in state.seed.pipelines:
        if pipeline.id == pipeline_id:
            return pipeline
    raise DevOpsError(
        404, "PipelineNotFoundException", f"Pipeline with id {pipeline_id} was not found."
    )


def _listed(runs: list[JsonDict], limit: int) -> list[JsonDict]:
    """Runs - List: "Gets top 10000 runs for a particular pipeline" (Runs_List in
    https://learn.microsoft.com/rest/api/azure/devops/pipelines/runs/list), in no
    documented order. The sandbox takes the newest `limit` and answers them ordered by a
    hash of their id, never with the newest first, so no client can lean on an order."""
    newest = sorted(runs, key=lambda r: int(r["id"]), reverse=True)[:limit]
    ordered = sorted(newest, key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())
    if len(ordered) > 1 and ordered[0]["id"] == newest[0]["id"]:
        ordered = ordered[1:] + ordered[:1]
    return ordered


def _advance(state: SandboxState, run: JsonDict, now: float) -> JsonDict:
    if run["state"] == "inProgress" and run["due"] <= now:
        run["state"] = "completed"
        run["result"] = run["outcome"]
        run["finishedDate"] = state.clock.iso(run["due"])
    return run


@dataclass(frozen=True)
class _Where:
    base_url: str
    organization: str
    project: str
    pipeline: PipelineSeed


def _public(run: JsonDict, where: _Where, *, full: bool) -> JsonDict:
    """A run as Runs - Get (`full`) or Runs - List answers it.

    Runs - List leaves out `templateParameters`, `resources` and `variables`, which only
    Runs - Get carries (https://github.com/MicrosoftDocs/vsts-rest-api-specs/issues/579).
    """
    base = where.base_url.rstrip("/")
    pipeline_id = where.pipeline.id
    web_root = f"{base}/{where.organization}/{where.project}"
    pipeline_url = f"{web_root}/_apis/pipelines/{pipeline_id}?revision=1"
    url = f"{web_root}/_apis/pipelines/{pipeline_id}/runs/{run['id']}"
    hidden = {"due", "outcome"} if full else {"due", "outcome", "templateParameters", "variables"}
    body = {k: v for k, v in run.items() if k not in hidden}
    body.update(
        {
            "_links": {
                "self": {"href": url},
                "web": {"href": f"{web_root}/_build/results?buildId={run['id']}"},
                "pipeline.web": {
                    "href": f"{web_root}/_build/definition?definitionId={pipeline_id}"
                },
                "pipeline": {"href": pipeline_url},
            },
            "pipeline": {
                "url": pipeline_url,
                "id": pipeline_id,
                "revision": 1,
                "name": where.pipeline.display_name,
                "folder": where.pipeline.folder,
            },
            "url": url,
        }
    )
    if full:
        body["resources"] = {
            "repositories": {
                "self": {"repository": {"type": "azureReposGit"}, "refName": "refs/heads/main"}
            }
        }
    return body
