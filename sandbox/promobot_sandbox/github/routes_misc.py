"""Users, organisations, teams, collaborators, GitHub Apps, and repository dispatch."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.apps import issue_installation_token, token_permissions
from promobot_sandbox.github.core import (
    ApiError,
    Identity,
    invalid,
    json_response,
    not_found,
    paginate,
    paginate_object,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.pulls import envelope, organization
from promobot_sandbox.github.ratelimit import rate_limit_body
from promobot_sandbox.github.render_base import Json, node_id, user
from promobot_sandbox.github.render_pulls import team
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
REPO = "/repos/{owner}/{repo}"
EPOCH = "2024-01-01T00:00:00Z"
# A client_payload may hold at most 10 top-level keys, under 64 KB in all.
# https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event
MAX_DISPATCH_KEYS = 10
MAX_DISPATCH_BYTES = 64 * 1024
MAX_EVENT_TYPE = 100


@router.get("/user")
def authenticated_user(ctx: C) -> Response:
    if ctx.who.kind != "user":
        raise ApiError(403, "Resource not accessible by integration")
    account = ctx.sb.user(ctx.who.login or "")
    if account is None:
        raise not_found()
    return json_response(_profile(ctx, account, private=True))


@router.get("/users/{username}")
def get_user(username: str, ctx: C) -> Response:
    record = ctx.sb.user(username)
    if record is None:
        raise not_found()
    return json_response(_profile(ctx, record, private=False))


def _profile(ctx: Ctx, record: Record, *, private: bool) -> Json:
    """A user's profile: `public-user`, or `private-user` (with the plan) for oneself."""
    stamp = record.get("created_at", EPOCH)
    body = {
        **user(ctx.links, record),
        "user_view_type": "private" if private else "public",
        "name": record.get("name"),
        "company": None,
        "blog": "",
        "location": None,
        "email": record.get("email"),
        "hireable": None,
        "bio": None,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": stamp,
        "updated_at": stamp,
    }
    if private:
        body.update(
            private_gists=0,
            total_private_repos=0,
            owned_private_repos=0,
            disk_usage=0,
            collaborators=0,
            two_factor_authentication=True,
            plan=_plan(ctx.sb.plan_of(record["login"])),
        )
    return body


def _plan(name: str) -> Json:
    return {"name": name, "space": 976562499, "private_repos": 10000, "collaborators": 0}


@router.get("/rate_limit")
def rate_limit(ctx: C) -> Response:
    """The caller's budgets; reading them spends none.
    https://docs.github.com/en/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user"""
    return json_response(rate_limit_body(ctx.sb, ctx.who))


@router.get("/orgs/{org}")
def get_org(org: str, ctx: C) -> Response:
    record = ctx.sb.user(org)
    if record is None or record["type"] != "Organization":
        raise not_found()
    body = organization_full(ctx, record)
    if ctx.sb.sees_org(ctx.who, org):
        body["plan"] = _plan(ctx.sb.plan_of(org))
    return json_response(body)


def organization_full(ctx: Ctx, record: Record) -> Json:
    body = organization(ctx.links, record)
    body.update(
        html_url=f"{ctx.links.web}/{record['login']}",
        type="Organization",
        name=record["login"],
        created_at=record.get("created_at", EPOCH),
        public_repos=0,
        public_gists=0,
        followers=0,
        following=0,
        has_organization_projects=False,
        has_repository_projects=False,
        updated_at=record.get("created_at", EPOCH),
        archived_at=None,
    )
    return body


def _team(ctx: Ctx, org: str, slug: str) -> Record:
    """The team, when the caller may see it. Team endpoints are "only available to
    authenticated members of the team's organization": an outside collaborator gets 404,
    and an installation needs the organization `members` permission (403 without it).
    https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user"""
    record = ctx.sb.store.find_one("team", scope=org.lower(), key=slug)
    if not ctx.sb.sees_org(ctx.who, org):
        raise not_found()
    ctx.require_app_permission()
    if record is None:
        raise not_found()
    return record


@router.get("/orgs/{org}/teams/{team_slug}")
def get_team(org: str, team_slug: str, ctx: C) -> Response:
    record = _team(ctx, org, team_slug)
    organization_record = ctx.sb.user(org) or {}
    body = team(ctx.links, record)
    body.update(
        created_at=record.get("created_at", EPOCH),
        updated_at=record.get("created_at", EPOCH),
        members_count=len(set(record["members"]) | set(record.get("maintainers", []))),
        repos_count=len(record.get("repositories", {})),
        organization=organization_full(ctx, organization_record),
    )
    return json_response(body)


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
    record = ctx.require(owner, repo, "read")
    account = ctx.sb.user(username)
    if account is None:
        raise ApiError(404, f"{username} is not a user")
    role = ctx.sb.permission(Identity("user", account["login"]), record) or "none"
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    collaborator = {**user(ctx.links, account), "role_name": role}
    return json_response({"permission": legacy, "role_name": role, "user": collaborator})


@router.get(REPO + "/collaborators/{username}")
def is_collaborator(owner: str, repo: str, username: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    grant = ctx.sb.permission(Identity("user", username), {**record, "private": True})
    if grant is None:
        raise not_found()
    return Response(status_code=204)


@router.post(REPO + "/dispatches")
def repository_dispatch(owner: str, repo: str, ctx: C, body: Body) -> Response:
    """The event goes to GitHub Apps only, never to repository webhooks.
    https://docs.github.com/en/webhooks/webhook-events-and-payloads#repository_dispatch"""
    record = ctx.require(owner, repo, "write")
    event_type = body.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise invalid("Repository", "event_type", code="missing_field")
    if len(event_type) > MAX_EVENT_TYPE:
        raise invalid("Repository", "event_type", "event_type must be 100 characters or fewer")
    client_payload = body.get("client_payload") or {}
    if not isinstance(client_payload, dict):
        raise invalid("Repository", "client_payload", "client_payload must be an object")
    if len(client_payload) > MAX_DISPATCH_KEYS:
        raise invalid(
            "Repository",
            "client_payload",
            f"No more than 10 properties are allowed; {len(client_payload)} were supplied.",
        )
    if len(json.dumps(client_payload).encode()) >= MAX_DISPATCH_BYTES:
        raise invalid("Repository", "client_payload", "client_payload must be less than 64KB")
    payload = {
        "action": event_type,
        "branch": record["default_branch"],
        "client_payload": client_payload,
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "repository_dispatch", payload, apps_only=True)
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
        "permissions": app.get("permissions") or {},
        "events": _app_events(ctx, app),
    }


def _app_events(ctx: Ctx, app: Record) -> list[str]:
    hook = ctx.sb.store.find_one("hook", scope=f"app:{app['app_id']}")
    return sorted(hook["events"]) if hook is not None else []


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
        "permissions": app.get("permissions") or {},
        "events": _app_events(ctx, app),
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
def create_access_token(installation_id: int, ctx: C, body: Body) -> Response:
    app = _calling_app(ctx)
    installation = _app_installation(ctx, app, installation_id)
    requested = body.get("permissions") if isinstance(body, dict) else None
    token = issue_installation_token(ctx.sb, app, installation, token_permissions(app, requested))
    return json_response(
        {
            "token": token["token"],
            "expires_at": token["expires_at"],
            "permissions": token["permissions"],
            "repository_selection": "selected"
            if installation.get("repositories") is not None
            else "all",
        },
        201,
    )


@router.get("/installation/repositories")
def installation_repositories(ctx: C) -> Response:
    """The repositories an installation token may act on, paged in an object.
    https://docs.github.com/en/rest/apps/installations#list-repositories-accessible-to-the-app-installation
    """
    if ctx.who.kind != "installation":
        raise ApiError(
            403,
            "This endpoint requires an installation access token",
            docs="https://docs.github.com/rest/apps/installations",
        )
    installation = ctx.sb.store.find_one("installation", key=str(ctx.who.installation_id))
    if installation is None:
        raise not_found()
    selected = installation.get("repositories")
    owner = installation["account"].lower()
    found = [
        repo
        for repo in ctx.sb.store.find("repo")
        if repo["full_name"].split("/", 1)[0].lower() == owner
        and (
            selected is None
            or repo["full_name"].split("/", 1)[1].lower() in [name.lower() for name in selected]
        )
    ]
    found.sort(key=lambda repo: repo["full_name"].lower())
    rendered = [ctx.sb.render_repo(ctx.links, repo) for repo in found]
    selection = "all" if selected is None else "selected"
    return paginate_object(
        ctx.request, rendered, "repositories", {"repository_selection": selection}
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
