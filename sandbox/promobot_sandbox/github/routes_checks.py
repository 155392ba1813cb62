"""Commit statuses, the combined status, and check runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import (
    ApiError,
    invalid,
    json_response,
    not_found,
    now,
    paginate,
    paginate_object,
    too_long,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.pulls import envelope, scope_of
from promobot_sandbox.github.render_base import Json, node_id
from promobot_sandbox.github.routes_git import commit_json
from promobot_sandbox.github.routes_misc import app_json
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
REPO = "/repos/{owner}/{repo}"
STATES = ("error", "failure", "pending", "success")
# "description: A short description of the status" is refused past 140 characters.
# https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
MAX_DESCRIPTION = 140
# A check run's output summary and text hold at most 65535 characters each.
# https://docs.github.com/en/rest/checks/runs#create-a-check-run
MAX_OUTPUT = 65535
# "The Checks API limits the number of annotations to a maximum of 50 per API request";
# each update appends its annotations to those the run already has.
# https://docs.github.com/en/rest/checks/runs#update-a-check-run
MAX_ANNOTATIONS = 50
ANNOTATION_LEVELS = ("notice", "warning", "failure")


def status_json(ctx: Ctx, record: Record, rec: Record) -> Json:
    return {
        "url": f"{ctx.links.repo_api(record['full_name'])}/statuses/{rec['sha']}",
        "avatar_url": f"{ctx.links.web}/avatars/{rec['creator']}",
        "id": rec["id"],
        "node_id": node_id("StatusContext", rec["id"]),
        "state": rec["state"],
        "description": rec.get("description"),
        "target_url": rec.get("target_url"),
        "context": rec["context"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "creator": ctx.sb.render_user(ctx.links, rec["creator"]),
    }


@router.post(REPO + "/statuses/{sha}")
def create_status(owner: str, repo: str, sha: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    if git.object_type(sha) != "commit":
        raise ApiError(422, f"No commit found for SHA: {sha}")
    state = body.get("state")
    if state not in STATES:
        raise invalid("Status", "state", f"state must be one of {', '.join(STATES)}")
    description = body.get("description")
    if isinstance(description, str) and len(description) > MAX_DESCRIPTION:
        raise too_long("Status", "description", MAX_DESCRIPTION)
    stamp = now()
    rec = ctx.sb.store.insert(
        "status",
        {
            "sha": sha,
            "state": state,
            "target_url": body.get("target_url"),
            "description": body.get("description"),
            "context": body.get("context") or "default",
            "creator": ctx.who.login,
            "created_at": stamp,
            "updated_at": stamp,
        },
        scope=scope_of(record),
        key=sha,
    )
    _emit_status(ctx, record, rec)
    return json_response(status_json(ctx, record, rec), 201)


def _emit_status(ctx: Ctx, record: Record, rec: Record) -> None:
    git = ctx.sb.git(record)
    api = ctx.links.repo_api(record["full_name"])
    commit = commit_json(ctx, record, git, rec["sha"])
    commit["commit"]["verification"].pop("verified_at", None)
    branches = [
        {
            "name": name.removeprefix("refs/heads/"),
            "commit": {"sha": head, "url": f"{api}/commits/{head}"},
            "protected": False,
        }
        for name, head, _ in git.refs("refs/heads/")
        if git.is_ancestor(rec["sha"], head)
    ][:10]
    payload = {
        "id": rec["id"],
        "sha": rec["sha"],
        "name": record["full_name"],
        "target_url": rec.get("target_url"),
        "avatar_url": f"{ctx.links.web}/avatars/{rec['creator']}",
        "context": rec["context"],
        "description": rec.get("description"),
        "state": rec["state"],
        "commit": commit,
        "branches": branches,
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "status", payload)


def _statuses_for(ctx: Ctx, record: Record, ref: str) -> tuple[str, list[Record]]:
    sha = ctx.sb.git(record).resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {ref}")
    return sha, list(reversed(ctx.sb.store.find("status", scope=scope_of(record), key=sha)))


@router.get(REPO + "/commits/{ref:path}/status")
def combined_status(owner: str, repo: str, ref: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    sha, statuses = _statuses_for(ctx, record, ref)
    latest: dict[str, Record] = {}
    for rec in statuses:
        latest.setdefault(rec["context"], rec)
    states = {rec["state"] for rec in latest.values()}
    state = (
        "failure"
        if states & {"failure", "error"}
        else ("pending" if not states or "pending" in states else "success")
    )
    repo_json = ctx.sb.render_repo(ctx.links, record)
    api = ctx.links.repo_api(record["full_name"])
    simple = []
    for rec in latest.values():
        item = status_json(ctx, record, rec)
        item.pop("creator")
        simple.append(item)
    fields = {
        "state": state,
        "sha": sha,
        "repository": repo_json,
        "commit_url": f"{api}/commits/{sha}",
        "url": f"{api}/commits/{sha}/status",
    }
    return paginate_object(ctx.request, simple, "statuses", fields)


@router.get(REPO + "/commits/{ref:path}/statuses")
@router.get(REPO + "/statuses/{ref:path}")
def list_statuses(owner: str, repo: str, ref: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    _, statuses = _statuses_for(ctx, record, ref)
    return paginate(ctx.request, [status_json(ctx, record, rec) for rec in statuses])


# --- check runs ------------------------------------------------------------------------

CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
)


def check_run_json(ctx: Ctx, record: Record, rec: Record) -> Json:
    api = ctx.links.repo_api(record["full_name"])
    app = ctx.sb.store.find_one("app", key=str(rec["app_id"]))
    app_rendered = app_json(ctx, app) if app else None
    pulls = []
    for pr in ctx.sb.store.find("pull", scope=scope_of(record)):
        if pr["state"] == "open" and pr["head_sha"] == rec["head_sha"]:
            side = {"id": record["id"], "url": api, "name": record["name"]}
            pulls.append(
                {
                    "url": f"{api}/pulls/{pr['number']}",
                    "id": pr["id"],
                    "number": pr["number"],
                    "head": {"ref": pr["head_ref"], "sha": pr["head_sha"], "repo": side},
                    "base": {"ref": pr["base_ref"], "sha": pr["base_sha"], "repo": side},
                }
            )
    suite = {
        "id": rec["suite_id"],
        "node_id": node_id("CheckSuite", rec["suite_id"]),
        "head_branch": rec.get("head_branch"),
        "head_sha": rec["head_sha"],
        "status": rec["status"]
        if rec["status"] in ("in_progress", "completed", "queued")
        else "queued",
        "conclusion": rec.get("conclusion"),
        "url": f"{api}/check-suites/{rec['suite_id']}",
        "before": None,
        "after": rec["head_sha"],
        "pull_requests": pulls,
        "app": app_rendered,
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
    }
    return {
        "id": rec["id"],
        "head_sha": rec["head_sha"],
        "node_id": node_id("CheckRun", rec["id"]),
        "external_id": rec.get("external_id") or "",
        "url": f"{api}/check-runs/{rec['id']}",
        "html_url": f"{ctx.links.repo_web(record['full_name'])}/runs/{rec['id']}",
        "details_url": rec.get("details_url")
        or f"{ctx.links.repo_web(record['full_name'])}/runs/{rec['id']}",
        "status": rec["status"],
        "conclusion": rec.get("conclusion"),
        "started_at": rec["started_at"],
        "completed_at": rec.get("completed_at"),
        "output": {
            "title": rec["output"].get("title"),
            "summary": rec["output"].get("summary"),
            "text": rec["output"].get("text"),
            "annotations_count": len(rec.get("annotations") or []),
            "annotations_url": f"{api}/check-runs/{rec['id']}/annotations",
        },
        "name": rec["name"],
        "check_suite": suite,
        "app": app_rendered,
        "pull_requests": pulls,
    }


def _apply_check_fields(rec: Record, body: Any) -> None:
    for field in ("name", "details_url", "external_id", "started_at"):
        if body.get(field) is not None:
            rec[field] = body[field]
    if body.get("output") is not None:
        if not isinstance(body["output"], dict):
            raise invalid("CheckRun", "output", "output must be an object")
        for key in ("summary", "text"):
            text = body["output"].get(key)
            if isinstance(text, str) and len(text) > MAX_OUTPUT:
                raise too_long("CheckRun", f"output.{key}", MAX_OUTPUT)
        rec["output"] = {k: body["output"].get(k) for k in ("title", "summary", "text")}
        added = _annotations(body["output"].get("annotations"))
        rec["annotations"] = [*(rec.get("annotations") or []), *added]
    status, conclusion = body.get("status"), body.get("conclusion")
    if status is not None and status not in CHECK_STATUSES:
        raise invalid("CheckRun", "status", f"status must be one of {', '.join(CHECK_STATUSES)}")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise invalid(
            "CheckRun", "conclusion", f"conclusion must be one of {', '.join(CONCLUSIONS)}"
        )
    if status is not None:
        rec["status"] = status
    if conclusion is not None:
        rec.update(conclusion=conclusion, status="completed")
    if rec["status"] == "completed":
        if rec.get("conclusion") is None:
            raise invalid(
                "CheckRun",
                "conclusion",
                "a completed check run needs a conclusion",
                "missing_field",
            )
        rec["completed_at"] = body.get("completed_at") or rec.get("completed_at") or now()
    rec["updated_at"] = now()


def _annotations(given: Any) -> list[Json]:
    """The annotations of one request, as GitHub validates them."""
    if given is None:
        return []
    if not isinstance(given, list):
        raise invalid("CheckRun", "output.annotations", "annotations must be an array")
    if len(given) > MAX_ANNOTATIONS:
        raise invalid(
            "CheckRun", "output.annotations", f"at most {MAX_ANNOTATIONS} annotations per request"
        )
    found = []
    for item in given:
        if not isinstance(item, dict):
            raise invalid("CheckRun", "output.annotations", "an annotation must be an object")
        for key in ("path", "message"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise invalid("CheckRun", f"annotations.{key}", code="missing_field")
        for key in ("start_line", "end_line"):
            if not isinstance(item.get(key), int) or item[key] < 1:
                raise invalid("CheckRun", f"annotations.{key}", code="missing_field")
        if item.get("annotation_level") not in ANNOTATION_LEVELS:
            raise invalid(
                "CheckRun",
                "annotations.annotation_level",
                f"annotation_level must be one of {', '.join(ANNOTATION_LEVELS)}",
            )
        found.append(
            {
                "path": item["path"],
                "start_line": item["start_line"],
                "end_line": item["end_line"],
                "start_column": item.get("start_column"),
                "end_column": item.get("end_column"),
                "annotation_level": item["annotation_level"],
                "title": item.get("title"),
                "message": item["message"],
                "raw_details": item.get("raw_details"),
            }
        )
    return found


def _require_app(ctx: Ctx) -> int:
    if ctx.who.kind != "installation" or ctx.who.app_id is None:
        raise ApiError(
            403, "You must authenticate via a GitHub App to create or update check runs."
        )
    return ctx.who.app_id


@router.post(REPO + "/check-runs")
def create_check_run(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    app_id = _require_app(ctx)
    head_sha, name = body.get("head_sha"), body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("CheckRun", "name", code="missing_field")
    if not isinstance(head_sha, str) or ctx.sb.git(record).object_type(head_sha) != "commit":
        raise invalid("CheckRun", "head_sha", "No commit found for SHA", "invalid")
    suite = ctx.sb.store.find_one("check_suite", scope=scope_of(record), key=f"{app_id}:{head_sha}")
    if suite is None:
        suite = ctx.sb.store.insert(
            "check_suite",
            {"head_sha": head_sha},
            scope=scope_of(record),
            key=f"{app_id}:{head_sha}",
        )
    stamp = now()
    rec: Record = {
        "head_sha": head_sha,
        "name": name,
        "status": "queued",
        "conclusion": None,
        "app_id": app_id,
        "suite_id": suite["id"],
        "started_at": stamp,
        "completed_at": None,
        "output": {},
        "created_at": stamp,
        "updated_at": stamp,
    }
    _apply_check_fields(rec, body)
    rec = ctx.sb.store.insert("check_run", rec, scope=scope_of(record), key=head_sha)
    _emit_check(ctx, record, rec, "created")
    if rec["status"] == "completed":
        _emit_check(ctx, record, rec, "completed")
    return json_response(check_run_json(ctx, record, rec), 201)


def _find_check(ctx: Ctx, record: Record, check_run_id: int) -> Record:
    rec = ctx.sb.store.get("check_run", check_run_id)
    if rec is None or not any(
        r["id"] == check_run_id
        for r in ctx.sb.store.find("check_run", scope=scope_of(record), key=rec["head_sha"])
    ):
        raise not_found()
    return rec


@router.patch(REPO + "/check-runs/{check_run_id}")
def update_check_run(owner: str, repo: str, check_run_id: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    app_id = _require_app(ctx)
    rec = _find_check(ctx, record, check_run_id)
    if rec["app_id"] != app_id:
        raise ApiError(403, "Invalid app_id: only the app that created a check run may update it.")
    was_completed = rec["status"] == "completed"
    _apply_check_fields(rec, body)
    ctx.sb.store.update("check_run", rec)
    if rec["status"] == "completed" and not was_completed:
        _emit_check(ctx, record, rec, "completed")
    return json_response(check_run_json(ctx, record, rec))


@router.get(REPO + "/check-runs/{check_run_id}")
def get_check_run(owner: str, repo: str, check_run_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return json_response(check_run_json(ctx, record, _find_check(ctx, record, check_run_id)))


@router.get(REPO + "/check-runs/{check_run_id}/annotations")
def list_annotations(owner: str, repo: str, check_run_id: int, ctx: C) -> Response:
    """Every annotation the run was given, in order, paged.
    https://docs.github.com/en/rest/checks/runs#list-check-run-annotations"""
    record = ctx.require(owner, repo, "read")
    rec = _find_check(ctx, record, check_run_id)
    blob = f"{ctx.links.repo_web(record['full_name'])}/blob/{rec['head_sha']}"
    items = [
        {**item, "blob_href": f"{blob}/{item['path']}"} for item in rec.get("annotations") or []
    ]
    return paginate(ctx.request, items)


@router.get(REPO + "/commits/{ref:path}/check-runs")
def list_check_runs(
    owner: str,
    repo: str,
    ref: str,
    ctx: C,
    check_name: str | None = None,
    filter: str = "latest",
) -> Response:
    """Newest first, paged; `filter=latest` (the default) keeps the newest run per name.
    https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference"""
    record = ctx.require(owner, repo, "read")
    sha = ctx.sb.git(record).resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    if filter not in ("latest", "all"):
        raise invalid("CheckRun", "filter", "filter must be latest or all")
    runs = [
        r
        for r in reversed(ctx.sb.store.find("check_run", scope=scope_of(record), key=sha))
        if check_name is None or r["name"] == check_name
    ]
    if filter == "latest":
        newest: dict[str, Record] = {}
        for run in runs:
            newest.setdefault(run["name"], run)
        runs = list(newest.values())
    return paginate_object(
        ctx.request, [check_run_json(ctx, record, r) for r in runs], "check_runs", {}
    )


def _emit_check(ctx: Ctx, record: Record, rec: Record, action: str) -> None:
    payload = {
        "action": action,
        "check_run": check_run_json(ctx, record, rec),
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "check_run", payload)
