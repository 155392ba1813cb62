"""Pull requests: list, create, get, update, files, commits, requested reviewers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import (
    ApiError,
    Identity,
    check_body,
    has_permission,
    invalid,
    json_response,
    not_found,
    now,
    paginate,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.permissions import has_level as has_permission_level
from promobot_sandbox.github.pulls import (
    emit_pull_event,
    envelope,
    head_sha,
    publish_head,
    pull_view,
    render_pull,
    scope_of,
    start_mergeability,
)
from promobot_sandbox.github.render_base import Json, node_id
from promobot_sandbox.github.render_pulls import team
from promobot_sandbox.github.routes_git import commit_json, file_json
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
PULLS = "/repos/{owner}/{repo}/pulls"


def find_pull(ctx: Ctx, record: Record, number: int) -> Record:
    pr = ctx.sb.store.find_one("pull", scope=scope_of(record), key=number)
    if pr is None:
        raise not_found()
    return pr


@router.get(PULLS)
def list_pulls(
    owner: str,
    repo: str,
    ctx: C,
    *,
    state: str = "open",
    head: str | None = None,
    base: str | None = None,
    sort: str = "created",
    direction: str | None = None,
) -> Response:
    record = ctx.require(owner, repo, "read")
    if state not in ("open", "closed", "all"):
        raise invalid("PullRequest", "state", "state must be open, closed or all")
    pulls = ctx.sb.store.find("pull", scope=scope_of(record))
    if state != "all":
        pulls = [p for p in pulls if p["state"] == state]
    if head:
        head_owner, _, head_ref = head.rpartition(":")
        pulls = [
            p
            for p in pulls
            if p["head_ref"] == head_ref
            and (not head_owner or head_owner.lower() == record["owner"].lower())
        ]
    if base:
        pulls = [p for p in pulls if p["base_ref"] == base]
    key = "updated_at" if sort in ("updated", "popularity", "long-running") else "created_at"
    descending = (direction or "desc") == "desc"
    pulls.sort(key=lambda p: (p[key], p["number"]), reverse=descending)
    return paginate(ctx.request, [render_pull(ctx.sb, ctx.links, record, p) for p in pulls])


@router.post(PULLS)
def create_pull(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    for name, value in (("title", title), ("head", head), ("base", base)):
        if not isinstance(value, str) or not value:
            raise invalid("PullRequest", name, code="missing_field")
    check_body("PullRequest", body.get("body"))
    draft = bool(body.get("draft", False))
    if draft and not drafts_allowed(ctx, record):
        raise ApiError(
            422,
            "Draft pull requests are not supported in this repository.",
            docs="https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        )
    head_ref = head.rpartition(":")[2]
    head_sha_now = git.ref_sha(f"refs/heads/{head_ref}")
    base_sha = git.ref_sha(f"refs/heads/{base}")
    if head_sha_now is None:
        raise invalid("PullRequest", "head")
    if base_sha is None:
        raise invalid("PullRequest", "base")
    for pr in ctx.sb.store.find("pull", scope=scope_of(record)):
        if pr["state"] == "open" and pr["head_ref"] == head_ref and pr["base_ref"] == base:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "A pull request already exists for "
                        f"{record['owner']}:{head_ref}.",
                    }
                ],
            )
    if git.is_ancestor(head_sha_now, base_sha):
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head_ref}",
                }
            ],
        )
    number = ctx.sb.next_number(record)
    issue = ctx.sb.store.insert("issue", {"number": number}, scope=scope_of(record), key=number)
    stamp = now()
    pr = ctx.sb.store.insert(
        "pull",
        {
            "number": number,
            "issue_id": issue["id"],
            "title": title,
            "body": body.get("body"),
            "state": "open",
            "draft": draft,
            "user": ctx.who.login,
            "last_pusher": ctx.who.login,
            "head_ref": head_ref,
            "head_sha": head_sha_now,
            "base_ref": base,
            "base_sha": base_sha,
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None,
            "merged_at": None,
            "merged_by": None,
            "merge_commit_sha": None,
            "labels": [],
            "requested_reviewers": [],
            "requested_teams": [],
        },
        scope=scope_of(record),
        key=number,
    )
    record["open_issues"] = record.get("open_issues", 0) + 1
    ctx.sb.store.update("repo", record)
    publish_head(git, pr)
    start_mergeability(ctx.sb, record, pr)
    emit_pull_event(ctx.sb, ctx.links, record, pr, action="opened", sender=ctx.who.login or "")
    return json_response(render_pull(ctx.sb, ctx.links, record, pr), 201)


def drafts_allowed(ctx: Ctx, record: Record) -> bool:
    """Drafts exist in public repositories on every plan, and in private ones only on
    GitHub Team and Enterprise. https://docs.github.com/en/get-started/learning-about-github/githubs-plans
    """
    return not record.get("private") or ctx.sb.plan_of(record["owner"]) in ("team", "enterprise")


@router.get(PULLS + "/{number}")
def get_pull(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    pr = find_pull(ctx, record, number)
    start_mergeability(ctx.sb, record, pr)
    return json_response(render_pull(ctx.sb, ctx.links, record, pr))


@router.patch(PULLS + "/{number}")
def update_pull(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    pr = find_pull(ctx, record, number)
    git = ctx.sb.git(record)
    changes: Json = {}
    check_body("PullRequest", body.get("body"))
    for field in ("title", "body"):
        if field in body and body[field] != pr.get(field):
            changes[field] = {"from": pr.get(field)}
            pr[field] = body[field]
    if "base" in body and body["base"] != pr["base_ref"]:
        if git.ref_sha(f"refs/heads/{body['base']}") is None:
            raise invalid(
                "PullRequest", "base", f"Proposed base branch '{body['base']}' was not found"
            )
        changes["base"] = {"ref": {"from": pr["base_ref"]}, "sha": {"from": pr["base_sha"]}}
        pr["base_ref"] = body["base"]
    action = _state_change(ctx, record, pr, body.get("state"))
    pr["updated_at"] = now()
    ctx.sb.store.update("pull", pr)
    start_mergeability(ctx.sb, record, pr)
    sender = ctx.who.login or ""
    if changes:
        emit_pull_event(
            ctx.sb, ctx.links, record, pr, action="edited", sender=sender, changes=changes
        )
    if action:
        emit_pull_event(ctx.sb, ctx.links, record, pr, action=action, sender=sender)
    return json_response(render_pull(ctx.sb, ctx.links, record, pr))


def _state_change(ctx: Ctx, record: Record, pr: Record, state: Any) -> str | None:
    if state is None or state == pr["state"]:
        return None
    if state not in ("open", "closed"):
        raise invalid("PullRequest", "state", "state must be open or closed")
    git = ctx.sb.git(record)
    if state == "closed":
        view = pull_view(ctx.sb, record, pr)
        pr.update(state="closed", closed_at=now(), head_sha=view.head_sha, base_sha=view.base_sha)
        record["open_issues"] = max(record.get("open_issues", 1) - 1, 0)
        ctx.sb.store.update("repo", record)
        return "closed"
    if pr.get("merged_at"):
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "Cannot reopen a merged pull request",
                }
            ],
        )
    if git.ref_sha(f"refs/heads/{pr['head_ref']}") is None:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "state cannot be changed. The head branch was deleted.",
                }
            ],
        )
    pr.update(state="open", closed_at=None, head_sha=head_sha(git, {**pr, "state": "open"}))
    publish_head(git, pr)
    record["open_issues"] = record.get("open_issues", 0) + 1
    ctx.sb.store.update("repo", record)
    return "reopened"


@router.get(PULLS + "/{number}/files")
def list_files(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    view = pull_view(ctx.sb, record, find_pull(ctx, record, number))
    git = ctx.sb.git(record)
    fork_point = git.merge_base(view.base_sha, view.head_sha) or view.base_sha
    changes = git.diff(fork_point, view.head_sha)
    return paginate(ctx.request, [file_json(ctx, record, view.head_sha, c) for c in changes])


@router.get(PULLS + "/{number}/commits")
def list_pull_commits(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    view = pull_view(ctx.sb, record, find_pull(ctx, record, number))
    git = ctx.sb.git(record)
    fork_point = git.merge_base(view.base_sha, view.head_sha) or view.base_sha
    shas = list(reversed(git.rev_list(f"{fork_point}..{view.head_sha}")))
    return paginate(ctx.request, [commit_json(ctx, record, git, s) for s in shas])


# --- requested reviewers ---------------------------------------------------------------


def _reviewer_lists(body: Any) -> tuple[list[str], list[str]]:
    reviewers, teams = body.get("reviewers") or [], body.get("team_reviewers") or []
    if not isinstance(reviewers, list) or not isinstance(teams, list):
        raise invalid("PullRequest", "reviewers", "reviewers and team_reviewers must be lists")
    return [str(r) for r in reviewers], [str(t) for t in teams]


@router.get(PULLS + "/{number}/requested_reviewers")
def get_requested_reviewers(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    pr = find_pull(ctx, record, number)
    full = render_pull(ctx.sb, ctx.links, record, pr)
    return json_response({"users": full["requested_reviewers"], "teams": full["requested_teams"]})


def _not_collaborator(record: Record) -> ApiError:
    return ApiError(
        422,
        "Reviews may only be requested from collaborators. One or more of the users or teams "
        f"you specified is not a collaborator of the {record['full_name']} repository.",
    )


def _team_reviewers(ctx: Ctx, record: Record, teams: list[str]) -> dict[str, Record]:
    """A team must exist in the repository's organisation, be visible to the caller (an
    installation needs the organization `members` permission), and have access to the
    repository. https://docs.github.com/en/rest/pulls/review-requests#request-reviewers-for-a-pull-request
    """
    found_teams = {}
    for slug in teams:
        found = ctx.sb.store.find_one("team", scope=record["owner"].lower(), key=slug)
        visible = ctx.sb.sees_org(ctx.who, record["owner"]) and (
            ctx.who.kind != "installation"
            or has_permission_level(ctx.who.granted.get("members"), "read")
        )
        if found is None or not visible:
            raise ApiError(
                422, f"Could not resolve to a node with the global id of '{node_id('Team', slug)}'."
            )
        if not found.get("repositories", {}).get(record["full_name"].lower()):
            raise _not_collaborator(record)
        found_teams[slug] = found
    return found_teams


@router.post(PULLS + "/{number}/requested_reviewers")
def request_reviewers(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    pr = find_pull(ctx, record, number)
    reviewers, teams = _reviewer_lists(body)
    for login in reviewers:
        if login.lower() == pr["user"].lower():
            raise ApiError(422, "Review cannot be requested from pull request author.")
        grant = ctx.sb.permission(Identity("user", login), {**record, "private": True})
        if grant is None or not has_permission(grant, "read"):
            raise _not_collaborator(record)
    team_records = _team_reviewers(ctx, record, teams)
    added = [r for r in reviewers if r not in pr["requested_reviewers"]]
    added_teams = [t for t in teams if t not in pr["requested_teams"]]
    pr["requested_reviewers"] += added
    pr["requested_teams"] += added_teams
    pr["updated_at"] = now()
    ctx.sb.store.update("pull", pr)
    sender = ctx.who.login or ""
    for login in added:
        emit_pull_event(
            ctx.sb,
            ctx.links,
            record,
            pr,
            action="review_requested",
            sender=sender,
            requested_reviewer=ctx.sb.render_user(ctx.links, login),
        )
    for slug in added_teams:
        emit_pull_event(
            ctx.sb,
            ctx.links,
            record,
            pr,
            action="review_requested",
            sender=sender,
            requested_team=team(ctx.links, team_records[slug], webhook=True),
        )
    return json_response(render_pull(ctx.sb, ctx.links, record, pr), 201)


@router.delete(PULLS + "/{number}/requested_reviewers")
def remove_requested_reviewers(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    pr = find_pull(ctx, record, number)
    reviewers, teams = _reviewer_lists(body)
    pr["requested_reviewers"] = [r for r in pr["requested_reviewers"] if r not in reviewers]
    pr["requested_teams"] = [t for t in pr["requested_teams"] if t not in teams]
    ctx.sb.store.update("pull", pr)
    return json_response(render_pull(ctx.sb, ctx.links, record, pr))


__all__ = ["envelope", "router"]
