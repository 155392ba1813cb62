"""Users, organisations, teams, collaborators, GitHub Apps, and repository dispatch."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.apps import issue_installation_token
from promobot_sandbox.github.core import (
    ApiError,
    Identity,
    invalid,
    json_response,
    not_found,
    paginate,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.pulls import envelope, organization
from promobot_sandbox.github.render_base import Json, node_id, user
from promobot_sandbox.github.render_pulls import team
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
REPO = "/repos/{owner}/{repo}"
APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
APP_EVENTS = ["check_run", "issue_comment", "pull_request", "pull_request_review", "push", "status"]


@router.get("/user")
def authenticated_user(ctx: C) -> Response:
    if ctx.who.kind != "user":
        raise ApiError(403, "Resource not accessible by integration")
    body = ctx.sb.render_user(ctx.links, ctx.who.login or "")
    account = ctx.sb.user(ctx.who.login or "") or {}
    body.update(name=account.get("name"), email=account.get("email"))
    return json_response(body)


@router.get("/users/{username}")
def get_user(username: str, ctx: C) -> Response:
    record = ctx.sb.user(username)
    if record is None:
        raise not_found()
    return json_response(user(ctx.links, record))


@router.get("/rate_limit")
def rate_limit(ctx: C) -> Response:
    reset = int(time.time()) + 3600
    core = {"limit": 5000, "remaining": 4999, "reset": reset, "used": 1}
    return json_response({"resources": {"core": core}, "rate": core})


@router.get("/orgs/{org}")
def get_org(org: str, ctx: C) -> Response:
    record = ctx.sb.user(org)
    if record is None or record["type"] != "Organization":
        raise not_found()
    body = organization(ctx.links, record)
    body.update(
        html_url=f"{ctx.links.web}/{record['login']}",
        type="Organization",
        name=record["login"],
        created_at=record.get("created_at", "2024-01-01T00:00:00Z"),
        public_repos=0,
        followers=0,
        following=0,
        has_organization_projects=False,
        has_repository_projects=False,
        updated_at=record.get("created_at", "2024-01-01T00:00:00Z"),
    )
    return json_response(body)


def _team(ctx: Ctx, org: str, slug: str) -> Record:
    record = ctx.sb.store.find_one("team", scope=org.lower(), key=slug)
    if record is None:
        raise not_found()
    return record


@router.get("/orgs/{org}/teams/{team_slug}")
def get_team(org: str, team_slug: str, ctx: C) -> Response:
    return json_response(team(ctx.links, _team(ctx, org, team_slug)))


@router.get("/orgs/{org}/teams/{team_slug}/members")
def team_members(org: str, team_slug: str, ctx: C) -> Response:
    record = _team(ctx, org, team_slug)
    logins = record["members"] + record.get("maintainers", [])
    return paginate(ctx.request, [ctx.sb.render_user(ctx.links, login) for login in logins])


@router.get("/orgs/{org}/teams/{team_slug}/members/{username}")
def is_team_member(org: str, team_slug: str, username: str, ctx: C) -> Response:
    record = _team(ctx, org, team_slug)
    members = [m.lower() for m in record["members"] + record.get("maintainers", [])]
    if username.lower() not in members:
        raise not_found()
    return Response(status_code=204)


@router.get("/orgs/{org}/teams/{team_slug}/memberships/{username}")
def team_membership(org: str, team_slug: str, username: str, ctx: C) -> Response:
    record = _team(ctx, org, team_slug)
    url = f"{ctx.links.api}/orgs/{org}/teams/{team_slug}/memberships/{username}"
    lowered = username.lower()
    if lowered in [m.lower() for m in record.get("maintainers", [])]:
        return json_response({"url": url, "role": "maintainer", "state": "active"})
    if lowered in [m.lower() for m in record["members"]]:
        return json_response({"url": url, "role": "member", "state": "active"})
    raise not_found()


@router.get(REPO + "/collaborators/{username}/permission")
def collaborator_permission(owner: str, repo: str, username: str, ctx: C) -> Response:
    record = ctx.sb.require(ctx.who, owner, repo, "read")
    account = ctx.sb.user(username)
    if account is None:
        raise ApiError(404, f"{username} is not a user")
    role = ctx.sb.permission(Identity("user", account["login"]), record) or "none"
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    collaborator = {**user(ctx.links, account), "role_name": role}
    return json_response({"permission": legacy, "role_name": role, "user": collaborator})


@router.get(REPO + "/collaborators/{username}")
def is_collaborator(owner: str, repo: str, username: str, ctx: C) -> Response:
    record = ctx.sb.require(ctx.who, owner, repo, "read")
    grant = ctx.sb.permission(Identity("user", username), {**record, "private": True})
    if grant is None:
        raise not_found()
    return Response(status_code=204)


@router.post(REPO + "/dispatches")
def repository_dispatch(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.sb.require(ctx.who, owner, repo, "write")
    event_type = body.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise invalid("Repository", "event_type", code="missing_field")
    client_payload = body.get("client_payload") or {}
    if not isinstance(client_payload, dict):
        raise invalid("Repository", "client_payload", "client_payload must be an object")
    payload = {
        "action": event_type,
        "branch": record["default_branch"],
        "client_payload": client_payload,
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "repository_dispatch", payload)
    return Response(status_code=204)


# --- GitHub Apps -----------------------------------------------------------------------


def app_json(ctx: Ctx, app: Record) -> Json:
    owner = ctx.sb.user(app["owner"]) or {"login": app["owner"], "id": 0, "type": "Organization"}
    return {
        "id": app["app_id"],
        "slug": app["slug"],
        "node_id": node_id("App", app["app_id"]),
        "owner": user(ctx.links, owner),
        "name": app["name"],
        "description": "",
        "external_url": f"{ctx.links.web}/apps/{app['slug']}",
        "html_url": f"{ctx.links.web}/apps/{app['slug']}",
        "created_at": app["created_at"],
        "updated_at": app["created_at"],
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
    }


def _installation_json(ctx: Ctx, app: Record, installation: Record) -> Json:
    account = ctx.sb.user(installation["account"]) or {
        "login": installation["account"],
        "id": 0,
        "type": "User",
    }
    iid = installation["installation_id"]
    return {
        "id": iid,
        "account": user(ctx.links, account),
        "access_tokens_url": f"{ctx.links.api}/app/installations/{iid}/access_tokens",
        "repositories_url": f"{ctx.links.api}/installation/repositories",
        "html_url": f"{ctx.links.web}/settings/installations/{iid}",
        "app_id": app["app_id"],
        "app_slug": app["slug"],
        "target_id": account["id"],
        "target_type": account["type"],
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "repository_selection": "selected"
        if installation.get("repositories") is not None
        else "all",
        "created_at": installation["created_at"],
        "updated_at": installation["created_at"],
        "single_file_name": None,
        "suspended_at": None,
        "suspended_by": None,
    }


def _calling_app(ctx: Ctx) -> Record:
    if ctx.who.kind != "app":
        raise ApiError(
            401, "A JSON web token could not be decoded", docs="https://docs.github.com/rest"
        )
    app = ctx.sb.store.find_one("app", key=str(ctx.who.app_id))
    if app is None:
        raise ApiError(401, "Integration not found")
    return app


def _app_installation(ctx: Ctx, app: Record, installation_id: int) -> Record:
    installation = ctx.sb.store.find_one("installation", key=str(installation_id))
    if installation is None or installation["app_id"] != app["app_id"]:
        raise not_found()
    return installation


@router.get("/app")
def get_app(ctx: C) -> Response:
    return json_response(app_json(ctx, _calling_app(ctx)))


@router.get("/app/installations")
def list_installations(ctx: C) -> Response:
    app = _calling_app(ctx)
    found = [i for i in ctx.sb.store.find("installation") if i["app_id"] == app["app_id"]]
    return paginate(ctx.request, [_installation_json(ctx, app, i) for i in found])


@router.get("/app/installations/{installation_id}")
def get_installation(installation_id: int, ctx: C) -> Response:
    app = _calling_app(ctx)
    return json_response(_installation_json(ctx, app, _app_installation(ctx, app, installation_id)))


@router.post("/app/installations/{installation_id}/access_tokens")
def create_access_token(installation_id: int, ctx: C) -> Response:
    app = _calling_app(ctx)
    installation = _app_installation(ctx, app, installation_id)
    token = issue_installation_token(ctx.sb, app, installation)
    return json_response(
        {
            "token": token["token"],
            "expires_at": token["expires_at"],
            "permissions": APP_PERMISSIONS,
            "repository_selection": "selected"
            if installation.get("repositories") is not None
            else "all",
        },
        201,
    )


@router.get(REPO + "/installation")
def repo_installation(owner: str, repo: str, ctx: C) -> Response:
    app = _calling_app(ctx)
    record = ctx.sb.repo(owner, repo)
    if record is None:
        raise not_found()
    for installation in ctx.sb.store.find("installation"):
        if (
            installation["app_id"] == app["app_id"]
            and installation["account"].lower() == owner.lower()
        ):
            selected = installation.get("repositories")
            if selected is None or repo.lower() in [r.lower() for r in selected]:
                return json_response(_installation_json(ctx, app, installation))
    raise not_found()
