"""Repository webhooks and their delivery log, with redelivery like GitHub's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import invalid, json_response, not_found, now, paginate
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.pulls import scope_of
from promobot_sandbox.github.render_base import Json
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
HOOKS = "/repos/{owner}/{repo}/hooks"


def hook_json(ctx: Ctx, record: Record, hook: Record) -> Json:
    url = f"{ctx.links.repo_api(record['full_name'])}/hooks/{hook['id']}"
    return {
        "type": "Repository",
        "id": hook["id"],
        "name": "web",
        "active": hook.get("active", True),
        "events": hook.get("events", ["push"]),
        "config": {
            "url": hook["url"],
            "content_type": hook.get("content_type", "json"),
            "insecure_ssl": "0",
            **({"secret": "********"} if hook.get("secret") else {}),
        },
        "updated_at": hook.get("created_at"),
        "created_at": hook.get("created_at"),
        "url": url,
        "test_url": f"{url}/test",
        "ping_url": f"{url}/pings",
        "deliveries_url": f"{url}/deliveries",
        "last_response": {"code": None, "status": "unused", "message": None},
    }


def _hook(ctx: Ctx, record: Record, hook_id: int) -> Record:
    hook = ctx.sb.store.get("hook", hook_id)
    if hook is None or all(
        h["id"] != hook_id for h in ctx.sb.store.find("hook", scope=scope_of(record))
    ):
        raise not_found()
    return hook


@router.get(HOOKS)
def list_hooks(owner: str, repo: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "admin")
    return paginate(
        ctx.request,
        [hook_json(ctx, record, h) for h in ctx.sb.store.find("hook", scope=scope_of(record))],
    )


@router.post(HOOKS)
def create_hook(owner: str, repo: str, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "admin")
    config = body.get("config") or {}
    if not isinstance(config, dict) or not isinstance(config.get("url"), str):
        raise invalid("Hook", "config.url", code="missing_field")
    hook = ctx.sb.store.insert(
        "hook",
        {
            "url": config["url"],
            "secret": config.get("secret"),
            "content_type": config.get("content_type", "form"),
            "events": body.get("events") or ["push"],
            "active": body.get("active", True),
            "created_at": now(),
        },
        scope=scope_of(record),
        key=config["url"],
    )
    return json_response(hook_json(ctx, record, hook), 201)


@router.get(HOOKS + "/{hook_id}")
def get_hook(owner: str, repo: str, hook_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "admin")
    return json_response(hook_json(ctx, record, _hook(ctx, record, hook_id)))


@router.delete(HOOKS + "/{hook_id}")
def delete_hook(owner: str, repo: str, hook_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "admin")
    ctx.sb.store.delete("hook", _hook(ctx, record, hook_id)["id"])
    return Response(status_code=204)


def delivery_json(delivery: Record, *, full: bool = False) -> Json:
    body = {
        key: delivery.get(key)
        for key in (
            "id",
            "guid",
            "delivered_at",
            "redelivery",
            "duration",
            "status",
            "status_code",
            "event",
            "action",
            "installation_id",
            "repository_id",
        )
    }
    body["throttled_at"] = None
    if full:
        body.update(
            url=delivery.get("url"),
            request=delivery.get("request") or {"headers": {}, "payload": delivery["payload"]},
            response=delivery.get("response") or {"headers": {}, "payload": None},
        )
    return body


@router.get(HOOKS + "/{hook_id}/deliveries")
def list_deliveries(owner: str, repo: str, hook_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "admin")
    hook = _hook(ctx, record, hook_id)
    deliveries = reversed(ctx.sb.store.find("delivery", scope=str(hook["id"])))
    return paginate(ctx.request, [delivery_json(d) for d in deliveries])


def _delivery(ctx: Ctx, hook: Record, delivery_id: int) -> Record:
    delivery = ctx.sb.store.get("delivery", delivery_id)
    if delivery is None or delivery["hook_id"] != hook["id"]:
        raise not_found()
    return delivery


@router.get(HOOKS + "/{hook_id}/deliveries/{delivery_id}")
def get_delivery(owner: str, repo: str, hook_id: int, delivery_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "admin")
    return json_response(
        delivery_json(_delivery(ctx, _hook(ctx, record, hook_id), delivery_id), full=True)
    )


@router.post(HOOKS + "/{hook_id}/deliveries/{delivery_id}/attempts")
def redeliver(owner: str, repo: str, hook_id: int, delivery_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "admin")
    delivery = _delivery(ctx, _hook(ctx, record, hook_id), delivery_id)
    ctx.sb.dispatcher.redeliver(delivery)
    return json_response({}, 202)
