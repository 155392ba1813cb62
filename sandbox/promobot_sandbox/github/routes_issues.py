"""The issue side of pull requests: the issue, its comments, its labels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import (
    ApiError,
    check_body,
    has_permission,
    invalid,
    json_response,
    not_found,
    now,
    paginate,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.pulls import emit_pull_event, envelope, render_pull, scope_of
from promobot_sandbox.github.render_base import Json
from promobot_sandbox.github.render_pulls import issue_comment, issue_of_pull, label
from promobot_sandbox.github.routes_pulls import find_pull
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
REPO = "/repos/{owner}/{repo}"
ISSUE = REPO + "/issues/{number}"


def comment_json(ctx: Ctx, record: Record, rec: Record) -> Json:
    return issue_comment(
        ctx.links,
        record["full_name"],
        rec,
        ctx.sb.render_user(ctx.links, rec["user"]),
        ctx.sb.author_association(rec["user"], record),
    )


def issue_json(ctx: Ctx, record: Record, pr: Record) -> Json:
    return issue_of_pull(render_pull(ctx.sb, ctx.links, record, pr, webhook=True), pr["issue_id"])


@router.get(ISSUE)
def get_issue(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return json_response(issue_json(ctx, record, find_pull(ctx, record, number)))


# --- comments --------------------------------------------------------------------------


@router.get(ISSUE + "/comments")
def list_comments(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    find_pull(ctx, record, number)
    comments = ctx.sb.store.find("comment", scope=scope_of(record), key=number)
    return paginate(ctx.request, [comment_json(ctx, record, c) for c in comments])


@router.post(ISSUE + "/comments")
def create_comment(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "read")
    pr = find_pull(ctx, record, number)
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body", code="missing_field")
    check_body("IssueComment", text)
    stamp = now()
    rec = ctx.sb.store.insert(
        "comment",
        {
            "issue_number": number,
            "body": text,
            "user": ctx.who.login,
            "created_at": stamp,
            "updated_at": stamp,
        },
        scope=scope_of(record),
        key=number,
    )
    _emit_comment(ctx, record, pr, rec, "created")
    return json_response(comment_json(ctx, record, rec), 201)


def _emit_comment(
    ctx: Ctx, record: Record, pr: Record, rec: Record, action: str, **extra: Any
) -> None:
    payload = {
        "action": action,
        **extra,
        "issue": issue_json(ctx, record, pr),
        "comment": comment_json(ctx, record, rec),
        **envelope(ctx.sb, ctx.links, record, ctx.who.login or ""),
    }
    ctx.sb.emit(record, "issue_comment", payload)


def _find_comment(ctx: Ctx, record: Record, comment_id: int) -> Record:
    rec = ctx.sb.store.get("comment", comment_id)
    if (
        rec is None
        or ctx.sb.store.find_one("pull", scope=scope_of(record), key=rec["issue_number"]) is None
    ):
        raise not_found()
    if not any(c["id"] == comment_id for c in ctx.sb.store.find("comment", scope=scope_of(record))):
        raise not_found()
    return rec


@router.get(REPO + "/issues/comments/{comment_id}")
def get_comment(owner: str, repo: str, comment_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return json_response(comment_json(ctx, record, _find_comment(ctx, record, comment_id)))


def _may_edit(ctx: Ctx, record: Record, rec: Record) -> None:
    own = (ctx.who.login or "").lower() == rec["user"].lower()
    if not own and not has_permission(ctx.sb.permission(ctx.who, record), "write"):
        raise ApiError(403, "Must have write access to edit or delete another person's comment.")


@router.patch(REPO + "/issues/comments/{comment_id}")
def update_comment(owner: str, repo: str, comment_id: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "read")
    rec = _find_comment(ctx, record, comment_id)
    _may_edit(ctx, record, rec)
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body", code="missing_field")
    check_body("IssueComment", text)
    previous = rec["body"]
    rec.update(body=text, updated_at=now())
    ctx.sb.store.update("comment", rec)
    pr = find_pull(ctx, record, rec["issue_number"])
    _emit_comment(ctx, record, pr, rec, "edited", changes={"body": {"from": previous}})
    return json_response(comment_json(ctx, record, rec))


@router.delete(REPO + "/issues/comments/{comment_id}")
def delete_comment(owner: str, repo: str, comment_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    rec = _find_comment(ctx, record, comment_id)
    _may_edit(ctx, record, rec)
    ctx.sb.store.delete("comment", comment_id)
    return Response(status_code=204)


# --- labels ----------------------------------------------------------------------------


def _ensure_label(ctx: Ctx, record: Record, name: str) -> Record:
    existing = ctx.sb.store.find_one("label", scope=scope_of(record), key=name)
    if existing is not None:
        return existing
    return ctx.sb.store.insert(
        "label",
        {"name": name, "color": "ededed", "description": None},
        scope=scope_of(record),
        key=name,
    )


def _labels_json(ctx: Ctx, record: Record, names: list[str]) -> list[Json]:
    return [label(ctx.links, record["full_name"], _ensure_label(ctx, record, n)) for n in names]


def _label_names(body: Any) -> list[str]:
    names = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(names, list):
        raise invalid("Label", "labels", "send a list of label names")
    return [n["name"] if isinstance(n, dict) else str(n) for n in names]


@router.get(ISSUE + "/labels")
def list_issue_labels(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return paginate(
        ctx.request, _labels_json(ctx, record, find_pull(ctx, record, number)["labels"])
    )


@router.post(ISSUE + "/labels")
def add_labels(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    return _set_labels(owner, repo, number, ctx, body, replace=False)


@router.put(ISSUE + "/labels")
def replace_labels(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    return _set_labels(owner, repo, number, ctx, body, replace=True)


def _set_labels(
    owner: str, repo: str, number: int, ctx: Ctx, body: Any, *, replace: bool
) -> Response:
    record = ctx.require(owner, repo, "triage")
    pr = find_pull(ctx, record, number)
    names = _label_names(body)
    before = list(pr["labels"])
    after = list(dict.fromkeys(names if replace else before + names))
    pr.update(labels=after, updated_at=now())
    ctx.sb.store.update("pull", pr)
    for name in after:
        if name not in before:
            _emit_label(ctx, record, pr, "labeled", name)
    for name in before:
        if name not in after:
            _emit_label(ctx, record, pr, "unlabeled", name)
    return json_response(_labels_json(ctx, record, after))


def _emit_label(ctx: Ctx, record: Record, pr: Record, action: str, name: str) -> None:
    rendered = label(ctx.links, record["full_name"], _ensure_label(ctx, record, name))
    emit_pull_event(
        ctx.sb, ctx.links, record, pr, action=action, sender=ctx.who.login or "", label=rendered
    )


@router.delete(ISSUE + "/labels/{name}")
def remove_label(owner: str, repo: str, number: int, name: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "triage")
    pr = find_pull(ctx, record, number)
    if name not in pr["labels"]:
        raise ApiError(404, "Label does not exist")
    pr.update(labels=[n for n in pr["labels"] if n != name], updated_at=now())
    ctx.sb.store.update("pull", pr)
    _emit_label(ctx, record, pr, "unlabeled", name)
    return json_response(_labels_json(ctx, record, pr["labels"]))


@router.get(REPO + "/labels")
def list_labels(owner: str, repo: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    labels = ctx.sb.store.find("label", scope=scope_of(record))
    return paginate(ctx.request, [label(ctx.links, record["full_name"], r) for r in labels])


@router.post(REPO + "/labels")
def create_label(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "write")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("Label", "name", code="missing_field")
    if ctx.sb.store.find_one("label", scope=scope_of(record), key=name) is not None:
        raise invalid("Label", "name", code="already_exists")
    rec = ctx.sb.store.insert(
        "label",
        {
            "name": name,
            "color": str(body.get("color") or "ededed").lstrip("#"),
            "description": body.get("description"),
        },
        scope=scope_of(record),
        key=name,
    )
    return json_response(label(ctx.links, record["full_name"], rec), 201)


@router.get(REPO + "/labels/{name}")
def get_label(owner: str, repo: str, name: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    rec = ctx.sb.store.find_one("label", scope=scope_of(record), key=name)
    if rec is None:
        raise not_found()
    return json_response(label(ctx.links, record["full_name"], rec))
