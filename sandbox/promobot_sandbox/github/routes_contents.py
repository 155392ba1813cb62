"""The Contents API: read a file or folder at a ref; create or update one file."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import ApiError, invalid, json_response, not_found
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.gitrepo import GitRepo
from promobot_sandbox.github.pulls import on_ref_moved
from promobot_sandbox.github.render_base import Json
from promobot_sandbox.github.routes_git import git_commit_json, guard_push, person, signs_for_caller
from promobot_sandbox.github.store import Record
from promobot_sandbox.github.verification import mark_verified

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
REPO = "/repos/{owner}/{repo}"


def _entry(
    ctx: Ctx, record: Record, path: str, *, kind: str, sha: str, size: int, ref: str
) -> Json:
    api = ctx.links.repo_api(record["full_name"])
    web = ctx.links.repo_web(record["full_name"])
    git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
    html_url = f"{web}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
    url = f"{api}/contents/{path}?ref={ref}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": f"{web}/raw/{ref}/{path}" if kind == "file" else None,
        "_links": {"self": url, "git": git_url, "html": html_url},
    }


@router.get(REPO + "/contents/{path:path}")
@router.get(REPO + "/contents")
def get_contents(owner: str, repo: str, ctx: C, path: str = "", ref: str | None = None) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    ref = ref or record["default_branch"]
    commit = git.resolve(ref)
    if commit is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    path = path.strip("/")
    found = git.resolve_path(commit, path) if path else ("tree", git.read_commit(commit).tree)
    if found is None:
        raise not_found()
    kind, sha = found
    if kind == "tree":
        listing = [
            _entry(
                ctx,
                record,
                f"{path}/{e.path}".lstrip("/"),
                kind="dir" if e.type == "tree" else "file",
                sha=e.sha,
                size=e.size or 0,
                ref=ref,
            )
            for e in git.list_tree(sha)
        ]
        return json_response(listing)
    data = git.read_blob(sha)
    body = _entry(ctx, record, path, kind="file", sha=sha, size=len(data), ref=ref)
    body.update(content=base64.encodebytes(data).decode(), encoding="base64")
    return json_response(body)


@router.put(REPO + "/contents/{path:path}")
def put_contents(owner: str, repo: str, path: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    message, content = body.get("message"), body.get("content")
    if not isinstance(message, str):
        raise invalid("Contents", "message", code="missing_field")
    if not isinstance(content, str):
        raise invalid("Contents", "content", code="missing_field")
    branch = body.get("branch") or record["default_branch"]
    ref = f"refs/heads/{branch}"
    head = git.ref_sha(ref)
    if head is None:
        raise ApiError(404, f"Branch {branch} not found")
    existing = git.resolve_path(head, path)
    _check_sha(existing, body.get("sha"), path)
    blob = git.write_blob(base64.b64decode(content))
    tree = git.write_tree([("100644", blob, path)], git.read_commit(head).tree)
    author = person(ctx, body.get("author") or body.get("committer"))
    committer = person(ctx, body.get("committer")) if body.get("committer") else author
    sha = git.write_commit(tree, [head], message, author, committer)
    if signs_for_caller(ctx, body):
        mark_verified(ctx.sb.store, record, sha)
    guard_push(ctx, record, git, ref, before=head, after=sha)
    git.update_ref(ref, sha, head)
    on_ref_moved(ctx.sb, ctx.links, record, ref, before=head, after=sha, sender=ctx.who.login or "")
    return json_response(
        {
            "content": _entry(
                ctx,
                record,
                path,
                kind="file",
                sha=blob,
                size=len(base64.b64decode(content)),
                ref=branch,
            ),
            "commit": git_commit_json(ctx, record, git, sha),
        },
        200 if existing else 201,
    )


def _check_sha(existing: tuple[str, str] | None, given: Any, path: str) -> None:
    if existing is not None and given is None:
        raise invalid(
            "Contents", "sha", f'"sha" wasn\'t supplied for existing file {path}', "missing_field"
        )
    if existing is not None and given != existing[1]:
        raise ApiError(409, f"{path} does not match {given}")


__all__ = ["GitRepo", "router"]
