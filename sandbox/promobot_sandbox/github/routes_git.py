"""Repository, Git Data API (refs, blobs, trees, commits), contents, commits, branches."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import (
    PERMISSIONS,
    ApiError,
    has_permission,
    invalid,
    json_response,
    not_found,
    now,
    paginate,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.gitrepo import ZERO_SHA, FileChange, GitError, GitRepo, Person
from promobot_sandbox.github.protection import (
    PROTECTION_DOCS,
    RULESET_PREFIX,
    new_commits,
    push_refusals,
)
from promobot_sandbox.github.pulls import on_ref_moved
from promobot_sandbox.github.render_base import Json, commit, git_commit, git_ref
from promobot_sandbox.github.store import Record
from promobot_sandbox.github.verification import mark_verified, verification

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
REPO = "/repos/{owner}/{repo}"


@router.get(REPO)
def get_repository(owner: str, repo: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    body = ctx.sb.render_repo(ctx.links, record)
    body.update(network_count=0, subscribers_count=0, permissions=_permissions(ctx, record))
    return json_response(body)


def _permissions(ctx: Ctx, record: Record) -> dict[str, bool]:
    actual = ctx.sb.permission(ctx.who, record)
    names = {
        "read": "pull",
        "triage": "triage",
        "write": "push",
        "maintain": "maintain",
        "admin": "admin",
    }
    return {names[p]: has_permission(actual, p) for p in PERMISSIONS}  # type: ignore[arg-type]


# --- refs ------------------------------------------------------------------------------


def _ref_json(ctx: Ctx, record: Record, git: GitRepo, ref: str) -> Json:
    sha = git.ref_sha(ref)
    if sha is None:
        raise not_found()
    return git_ref(ctx.links, record["full_name"], ref, sha, git.object_type(sha) or "commit")


@router.get(REPO + "/git/matching-refs/{ref:path}")
def matching_refs(owner: str, repo: str, ref: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    prefix = "refs/" + ref
    refs = [
        git_ref(ctx.links, record["full_name"], name, sha, kind)
        for name, sha, kind in ctx.sb.git(record).refs()
        if name.startswith(prefix)
    ]
    return paginate(ctx.request, refs)


@router.get(REPO + "/git/refs")
def list_refs(owner: str, repo: str, ctx: C) -> Response:
    return matching_refs(owner, repo, "", ctx)


@router.get(REPO + "/git/ref/{ref:path}")
@router.get(REPO + "/git/refs/{ref:path}")
def get_ref(owner: str, repo: str, ref: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return json_response(_ref_json(ctx, record, ctx.sb.git(record), "refs/" + ref))


@router.post(REPO + "/git/refs")
def create_ref(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or git.object_type(sha) is None:
        raise ApiError(422, "Object does not exist")
    if git.ref_sha(ref) is not None:
        raise ApiError(422, "Reference already exists")
    guard_push(ctx, record, git, ref, before=ZERO_SHA, after=sha)
    git.update_ref(ref, sha, ZERO_SHA)
    on_ref_moved(
        ctx.sb, ctx.links, record, ref, before=ZERO_SHA, after=sha, sender=ctx.who.login or ""
    )
    return json_response(_ref_json(ctx, record, git, ref), 201)


@router.patch(REPO + "/git/refs/{ref:path}")
def update_ref(owner: str, repo: str, ref: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    full_ref = "refs/" + ref
    old = git.ref_sha(full_ref)
    sha = body.get("sha")
    if old is None:
        raise ApiError(422, "Reference does not exist")
    if not isinstance(sha, str) or git.object_type(sha) != "commit":
        raise ApiError(422, "Object does not exist")
    if not body.get("force") and not git.is_ancestor(old, sha):
        raise ApiError(422, "Update is not a fast forward")
    if old != sha:
        guard_push(ctx, record, git, full_ref, before=old, after=sha)
        try:
            git.update_ref(full_ref, sha, old)
        except GitError as error:
            raise ApiError(409, "Reference cannot be updated: it changed meanwhile") from error
        on_ref_moved(
            ctx.sb, ctx.links, record, full_ref, before=old, after=sha, sender=ctx.who.login or ""
        )
    return json_response(_ref_json(ctx, record, git, full_ref))


@router.delete(REPO + "/git/refs/{ref:path}")
def delete_ref(owner: str, repo: str, ref: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    full_ref = "refs/" + ref
    old = git.ref_sha(full_ref)
    if old is None:
        raise ApiError(422, "Reference does not exist")
    guard_push(ctx, record, git, full_ref, before=old, after=ZERO_SHA)
    git.delete_ref(full_ref)
    on_ref_moved(
        ctx.sb, ctx.links, record, full_ref, before=old, after=ZERO_SHA, sender=ctx.who.login or ""
    )
    return Response(status_code=204)


def guard_push(
    ctx: Ctx, record: Record, git: GitRepo, ref: str, *, before: str, after: str
) -> None:
    """422 when branch protection or a ruleset refuses this direct update of `ref`.
    https://docs.github.com/en/rest/git/refs#update-a-reference"""
    refusals = push_refusals(
        ctx.sb,
        record,
        ref,
        before=before,
        after=after,
        new_commits=new_commits(git, ref, after),
        fast_forward=ZERO_SHA in (before, after) or git.is_ancestor(before, after),
        who=ctx.who,
    )
    if refusals:
        message = f"Protected branch update failed for {ref}."
        if refusals[0].startswith(RULESET_PREFIX):
            message = refusals[0]
        else:
            message += "\n\n" + refusals[0]
        raise ApiError(422, message, docs=PROTECTION_DOCS)


# --- objects ---------------------------------------------------------------------------


@router.post(REPO + "/git/blobs")
def create_blob(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    content = body.get("content")
    if not isinstance(content, str):
        raise invalid("Blob", "content", code="missing_field")
    data = _decode(content, body.get("encoding", "utf-8"), "Blob")
    sha = ctx.sb.git(record).write_blob(data)
    return json_response(
        {"url": f"{ctx.links.repo_api(record['full_name'])}/git/blobs/{sha}", "sha": sha}, 201
    )


def _decode(content: str, encoding: str, resource: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=False)
        except binascii.Error as error:
            raise invalid(resource, "content", "content is not valid Base64") from error
    if encoding not in ("utf-8", "utf8"):
        raise invalid(resource, "encoding", f"encoding must be utf-8 or base64, not {encoding!r}")
    return content.encode()


@router.get(REPO + "/git/blobs/{sha}")
def get_blob(owner: str, repo: str, sha: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    if git.object_type(sha) != "blob":
        raise not_found()
    data = git.read_blob(sha)
    return json_response(
        {
            "sha": sha,
            "node_id": f"blob:{sha}",
            "size": len(data),
            "url": f"{ctx.links.repo_api(record['full_name'])}/git/blobs/{sha}",
            "content": base64.encodebytes(data).decode(),
            "encoding": "base64",
        }
    )


@router.post(REPO + "/git/trees")
def create_tree(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    items, base_tree = body.get("tree"), body.get("base_tree")
    if not isinstance(items, list):
        raise invalid("Tree", "tree", code="missing_field")
    if base_tree is not None and git.object_type(base_tree) not in ("tree", "commit"):
        raise ApiError(422, "base_tree is not a valid tree oid")
    entries: list[tuple[str, str | None, str]] = []
    for item in items:
        entries.append(_tree_entry(git, item))
    sha = git.write_tree(entries, base_tree)
    return json_response(_tree_json(ctx, record, git, sha, recursive=False), 201)


def _tree_entry(git: GitRepo, item: Any) -> tuple[str, str | None, str]:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise invalid("Tree", "tree.path", code="missing_field")
    mode = str(item.get("mode", "100644"))
    if mode not in ("100644", "100755", "040000", "160000", "120000"):
        raise invalid("Tree", "tree.mode", f"mode {mode!r} is not a git file mode")
    if "content" in item and item["content"] is not None:
        return mode, git.write_blob(str(item["content"]).encode()), item["path"]
    sha = item.get("sha")
    if sha is None:
        return mode, None, item["path"]
    if git.object_type(sha) is None:
        raise ApiError(422, f"tree.sha {sha} is not a valid blob")
    return mode, sha, item["path"]


def _tree_json(ctx: Ctx, record: Record, git: GitRepo, sha: str, *, recursive: bool) -> Json:
    api = ctx.links.repo_api(record["full_name"])
    tree = []
    for entry in git.list_tree(sha, recursive=recursive):
        item: Json = {"path": entry.path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
        if entry.type == "blob":
            item.update(size=entry.size or 0, url=f"{api}/git/blobs/{entry.sha}")
        elif entry.type == "tree":
            item["url"] = f"{api}/git/trees/{entry.sha}"
        tree.append(item)
    return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": tree, "truncated": False}


@router.get(REPO + "/git/trees/{sha}")
def get_tree(owner: str, repo: str, sha: str, ctx: C, recursive: str | None = None) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    kind = git.object_type(sha)
    if kind not in ("tree", "commit"):
        resolved = git.resolve(sha)
        if resolved is None:
            raise not_found()
        sha = resolved
    if git.object_type(sha) == "commit":
        sha = git.read_commit(sha).tree
    return json_response(_tree_json(ctx, record, git, sha, recursive=bool(recursive)))


@router.post(REPO + "/git/commits")
def create_commit(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    git = ctx.sb.git(record)
    message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
    if not isinstance(message, str):
        raise invalid("Commit", "message", code="missing_field")
    if not isinstance(tree, str) or git.object_type(tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist")
    if not isinstance(parents, list) or any(git.object_type(p) != "commit" for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    author = person(ctx, body.get("author"))
    committer = person(ctx, body.get("committer")) if body.get("committer") else author
    sha = git.write_commit(tree, parents, message, author, committer)
    if signs_for_caller(ctx, body):
        mark_verified(ctx.sb.store, record, sha)
    return json_response(git_commit_json(ctx, record, git, sha), 201)


def signs_for_caller(ctx: Ctx, body: Any) -> bool:
    """GitHub signs a commit an App creates through the API when it names no author and
    no committer (then both are the App's bot).
    https://docs.github.com/en/authentication/managing-commit-signature-verification/about-commit-signature-verification#signature-verification-for-bots"""
    return ctx.who.kind == "installation" and not body.get("author") and not body.get("committer")


def commit_verification(ctx: Ctx, record: Record, git: GitRepo, sha: str) -> Json:
    return verification(ctx.sb.store, record, sha, git.raw_commit(sha))


def git_commit_json(ctx: Ctx, record: Record, git: GitRepo, sha: str) -> Json:
    info = git.read_commit(sha)
    return git_commit(
        ctx.links, record["full_name"], info, commit_verification(ctx, record, git, sha)
    )


def person(ctx: Ctx, value: Any) -> Person:
    """An author or committer from a request, defaulting to the caller."""
    account = ctx.sb.user(ctx.who.login or "") or {}
    value = value if isinstance(value, dict) else {}
    date = value.get("date") or now()
    return Person(
        name=value.get("name") or account.get("name") or ctx.who.login or "sandbox",
        email=value.get("email") or account.get("email") or "sandbox@localhost",
        date=date,
    )


@router.get(REPO + "/git/commits/{sha}")
def get_git_commit(owner: str, repo: str, sha: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    if git.object_type(sha) != "commit":
        raise not_found()
    return json_response(git_commit_json(ctx, record, git, sha))


# --- commits and branches --------------------------------------------------------------


def commit_json(ctx: Ctx, record: Record, git: GitRepo, sha: str) -> Json:
    info = git.read_commit(sha)
    author = ctx.sb.user_by_email(info.author.email)
    committer = ctx.sb.user_by_email(info.committer.email)
    return commit(
        ctx.links,
        record["full_name"],
        info,
        None if author is None else ctx.sb.render_user(ctx.links, author["login"]),
        None if committer is None else ctx.sb.render_user(ctx.links, committer["login"]),
        commit_verification(ctx, record, git, sha),
    )


@router.get(REPO + "/commits")
def list_commits(
    owner: str, repo: str, ctx: C, sha: str | None = None, path: str | None = None
) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    start = git.resolve(sha or record["default_branch"])
    if start is None:
        if sha is None:
            raise ApiError(409, "Git Repository is empty.")
        raise not_found()
    shas = git.rev_list(start, path=path, limit=300)
    return paginate(ctx.request, [commit_json(ctx, record, git, s) for s in shas])


@router.get(REPO + "/commits/{ref:path}")
def get_commit(owner: str, repo: str, ref: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    sha = git.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    body = commit_json(ctx, record, git, sha)
    info = git.read_commit(sha)
    base = info.parents[0] if info.parents else "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    changes = git.diff(base, sha)
    body["stats"] = {
        "additions": sum(c.additions for c in changes),
        "deletions": sum(c.deletions for c in changes),
        "total": sum(c.additions + c.deletions for c in changes),
    }
    body["files"] = [file_json(ctx, record, sha, c) for c in changes]
    return json_response(body)


def file_json(ctx: Ctx, record: Record, sha: str, change: FileChange) -> Json:
    api = ctx.links.repo_api(record["full_name"])
    web = ctx.links.repo_web(record["full_name"])
    body: Json = {
        "sha": change.sha,
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{web}/blob/{sha}/{change.filename}",
        "raw_url": f"{web}/raw/{sha}/{change.filename}",
        "contents_url": f"{api}/contents/{change.filename}?ref={sha}",
        "patch": change.patch,
    }
    if change.previous_filename:
        body["previous_filename"] = change.previous_filename
    return body
