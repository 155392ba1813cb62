"""Deployments and deployment statuses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import ApiError, invalid, json_response, not_found, now, paginate
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.pulls import envelope, scope_of
from promobot_sandbox.github.render_base import Json, node_id
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
DEPLOYMENTS = "/repos/{owner}/{repo}/deployments"
STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def deployment_json(ctx: Ctx, record: Record, rec: Record) -> Json:
    api = ctx.links.repo_api(record["full_name"])
    url = f"{api}/deployments/{rec['id']}"
    return {
        "url": url,
        "id": rec["id"],
        "node_id": node_id("Deployment", rec["id"]),
        "sha": rec["sha"],
        "ref": rec["ref"],
        "task": rec["task"],
        "payload": rec["payload"],
        "original_environment": rec["environment"],
        "environment": rec["environment"],
        "description": rec.get("description"),
        "creator": ctx.sb.render_user(ctx.links, rec["creator"]),
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "statuses_url": f"{url}/statuses",
        "repository_url": api,
        "transient_environment": rec["transient_environment"],
        "production_environment": rec["production_environment"],
        "performed_via_github_app": None,
    }


def status_json(ctx: Ctx, record: Record, deployment: Record, rec: Record) -> Json:
    api = ctx.links.repo_api(record["full_name"])
    url = f"{api}/deployments/{deployment['id']}"
    return {
        "url": f"{url}/statuses/{rec['id']}",
        "id": rec["id"],
        "node_id": node_id("DeploymentStatus", rec["id"]),
        "state": rec["state"],
        "creator": ctx.sb.render_user(ctx.links, rec["creator"]),
        "description": rec.get("description") or "",
        "environment": rec["environment"],
        "target_url": rec.get("target_url") or "",
        "log_url": rec.get("log_url") or rec.get("target_url") or "",
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "deployment_url": url,
        "repository_url": api,
        "environment_url": rec.get("environment_url") or "",
        "performed_via_github_app": None,
    }


def _failed_contexts(ctx: Ctx, record: Record, sha: str, required: Any) -> list[str]:
    latest: dict[str, str] = {}
    for rec in ctx.sb.store.find("status", scope=scope_of(record), key=sha):
        latest[rec["context"]] = rec["state"]
    contexts = list(latest) if required is None else list(required)
    return [c for c in contexts if latest.get(c) != "success"]


@router.post(DEPLOYMENTS)
def create_deployment(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref:
        raise invalid("Deployment", "ref", code="missing_field")
    sha = ctx.sb.git(record).resolve(ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    required = body.get("required_contexts")
    failed = _failed_contexts(ctx, record, sha, required)
    if failed:
        raise ApiError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            errors=[
                {
                    "contexts": [{"context": c, "state": "missing"} for c in failed],
                    "resource": "Deployment",
                    "field": "required_contexts",
                    "code": "invalid",
                },
            ],
        )
    environment = body.get("environment") or "production"
    stamp = now()
    rec = ctx.sb.store.insert(
        "deployment",
        {
            "sha": sha,
            "ref": ref,
            "task": body.get("task") or "deploy",
            "payload": body.get("payload") or {},
            "environment": environment,
            "description": body.get("description"),
            "creator": ctx.who.login,
            "created_at": stamp,
            "updated_at": stamp,
            "transient_environment": bool(body.get("transient_environment", False)),
            "production_environment": bool(
                body.get("production_environment", environment == "production")
            ),
        },
        scope=scope_of(record),
    )
    payload = {
        "action": "created",
        "deployment": deployment_json(ctx, record, rec),
        "workflow": None,
        "workflow_run": None,
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "deployment", payload)
    return json_response(deployment_json(ctx, record, rec), 201)


@router.get(DEPLOYMENTS)
def list_deployments(
    owner: str,
    repo: str,
    ctx: C,
    *,
    sha: str | None = None,
    ref: str | None = None,
    task: str | None = None,
    environment: str | None = None,
) -> Response:
    record = ctx.require(owner, repo, "read")
    found = [
        d
        for d in reversed(ctx.sb.store.find("deployment", scope=scope_of(record)))
        if (sha is None or d["sha"] == sha)
        and (ref is None or d["ref"] == ref)
        and (task is None or d["task"] == task)
        and (environment is None or d["environment"] == environment)
    ]
    return paginate(ctx.request, [deployment_json(ctx, record, d) for d in found])


def _deployment(ctx: Ctx, record: Record, deployment_id: int) -> Record:
    rec = ctx.sb.store.get("deployment", deployment_id)
    if rec is None or all(
        d["id"] != deployment_id for d in ctx.sb.store.find("deployment", scope=scope_of(record))
    ):
        raise not_found()
    return rec


@router.get(DEPLOYMENTS + "/{deployment_id}")
def get_deployment(owner: str, repo: str, deployment_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return json_response(deployment_json(ctx, record, _deployment(ctx, record, deployment_id)))


@router.post(DEPLOYMENTS + "/{deployment_id}/statuses")
def create_deployment_status(
    owner: str, repo: str, deployment_id: int, ctx: C, body: Body
) -> Response:
    record = ctx.require(owner, repo, "write")
    deployment = _deployment(ctx, record, deployment_id)
    state = body.get("state")
    if state not in STATES:
        raise invalid("DeploymentStatus", "state", f"state must be one of {', '.join(STATES)}")
    stamp = now()
    rec = ctx.sb.store.insert(
        "deployment_status",
        {
            "state": state,
            "creator": ctx.who.login,
            "description": body.get("description"),
            "environment": body.get("environment") or deployment["environment"],
            "target_url": body.get("target_url"),
            "log_url": body.get("log_url"),
            "environment_url": body.get("environment_url"),
            "created_at": stamp,
            "updated_at": stamp,
        },
        scope=scope_of(record),
        key=deployment_id,
    )
    deployment["updated_at"] = stamp
    ctx.sb.store.update("deployment", deployment)
    hooked = status_json(ctx, record, deployment, rec)
    # REST answers "" for unset URLs; webhook payloads leave them out.
    for name in ("log_url", "environment_url"):
        if not hooked[name]:
            hooked.pop(name)
    payload = {
        "action": "created",
        "deployment_status": hooked,
        "deployment": deployment_json(ctx, record, deployment),
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "deployment_status", payload)
    return json_response(status_json(ctx, record, deployment, rec), 201)


@router.get(DEPLOYMENTS + "/{deployment_id}/statuses/{status_id}")
def get_deployment_status(
    owner: str, repo: str, deployment_id: int, status_id: int, ctx: C
) -> Response:
    record = ctx.require(owner, repo, "read")
    deployment = _deployment(ctx, record, deployment_id)
    for status in ctx.sb.store.find("deployment_status", scope=scope_of(record), key=deployment_id):
        if status["id"] == status_id:
            return json_response(status_json(ctx, record, deployment, status))
    raise not_found()


@router.get(DEPLOYMENTS + "/{deployment_id}/statuses")
def list_deployment_statuses(owner: str, repo: str, deployment_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    deployment = _deployment(ctx, record, deployment_id)
    statuses = reversed(
        ctx.sb.store.find("deployment_status", scope=scope_of(record), key=deployment_id)
    )
    return paginate(ctx.request, [status_json(ctx, record, deployment, s) for s in statuses])
