"""Test and benchmark hooks under `/_sandbox/` (outside GitHub's namespace): the request
log, fault injection, the delivery log, and the callback of the git post-receive hook."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from promobot_sandbox.github.core import ApiError, Fault, Identity, json_response
from promobot_sandbox.github.deps import json_body, links_for
from promobot_sandbox.github.protection import push_refusals
from promobot_sandbox.github.pulls import on_ref_moved
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record

router = APIRouter(prefix="/_sandbox")
Body = Annotated[Any, Depends(json_body)]
FAULT_STATUSES = (403, 429, 500, 502, 503)


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


@router.get("/health")
def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/requests")
def list_requests(request: Request) -> Response:
    return json_response(list(_sandbox(request).request_log.entries))


@router.delete("/requests")
def clear_requests(request: Request) -> Response:
    _sandbox(request).request_log.entries.clear()
    return Response(status_code=204)


@router.get("/faults")
def list_faults(request: Request) -> Response:
    return json_response([vars(f) for f in _sandbox(request).faults])


@router.post("/faults")
def add_fault(request: Request, body: Body) -> Response:
    """Body: {"method": "GET"|"*", "path": regex, "status": 500|502|503|403|429|null,
    "count": n, "latency_ms": ms, "answer_late": bool, "retry_after": seconds, "message": text,
    "primary_rate_limit": bool, "reset_in": seconds, "headers": {...}}. A 403 is a secondary
    rate limit (with Retry-After) unless `primary_rate_limit`: then X-RateLimit-Remaining 0 and
    X-RateLimit-Reset, as GitHub. `answer_late` (with status null): carry the request out,
    then wait `latency_ms` before answering. `retry_after` 0 or null sends no Retry-After;
    `reset_in` sets X-RateLimit-Reset relative to now; `headers` are added as given."""
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        raise ApiError(
            422, "a fault needs `path` (a regular expression matched against the request path)"
        )
    status = body.get("status")
    if status is not None and status not in FAULT_STATUSES:
        raise ApiError(422, f"status must be one of {FAULT_STATUSES} or null (latency only)")
    fault = Fault(
        method=str(body.get("method") or "*").upper(),
        path_regex=body["path"],
        status=status,
        count=int(body.get("count", 1)),
        latency_ms=int(body.get("latency_ms", 0)),
        answer_late=bool(body.get("answer_late", False)),
        retry_after=body.get("retry_after", 1) or None,
        primary_rate_limit=bool(body.get("primary_rate_limit", False)),
        reset_in=body.get("reset_in"),
        headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
        message=body.get("message"),
    )
    _sandbox(request).faults.append(fault)
    return json_response(vars(fault), 201)


@router.delete("/faults")
def clear_faults(request: Request) -> Response:
    _sandbox(request).faults.clear()
    return Response(status_code=204)


@router.get("/deliveries")
def all_deliveries(request: Request, wait: float = 0.0) -> Response:
    """Every delivery attempt, oldest first; `wait` seconds for queued ones to be sent."""
    sandbox = _sandbox(request)
    if wait > 0:
        sandbox.dispatcher.wait_idle(min(wait, 30.0))
    deliveries = sandbox.store.find("delivery")
    keep = (
        "id",
        "guid",
        "hook_id",
        "event",
        "action",
        "status",
        "status_code",
        "redelivery",
        "url",
        "delivered_at",
    )
    return json_response([{k: d.get(k) for k in keep} for d in deliveries])


def _pushed_repo(request: Request, body: Any) -> tuple[Sandbox, Record]:
    """The sandbox repository a git hook reports about (401 without the hook secret)."""
    sandbox = _sandbox(request)
    secret = request.headers.get("x-sandbox-hook-secret", "")
    if not hmac.compare_digest(secret, sandbox.hook_secret):
        raise ApiError(401, "Bad hook secret")
    path = Path(str(body.get("repository", ""))).resolve()
    try:
        relative = path.relative_to(sandbox.repos_dir.resolve())
    except ValueError as error:
        raise ApiError(404, f"{path} is not a sandbox repository") from error
    owner, name = relative.parts[0], relative.parts[1].removesuffix(".git")
    record = sandbox.repo(owner, name)
    if record is None:
        raise ApiError(404, f"{owner}/{name} is not a sandbox repository")
    return sandbox, record


@router.post("/git/pre-receive")
def pre_receive(request: Request, body: Body) -> Response:
    """Called by the bare repositories' pre-receive hook before a `git push` lands: the
    refusals branch protection and rulesets give (GitHub's "GH006")."""
    sandbox, record = _pushed_repo(request, body)
    refusals = []
    for update in body.get("updates") or []:
        account = sandbox.user_by_email(str(update.get("pusher_email") or ""))
        who = None if account is None else Identity("user", account["login"])
        messages = push_refusals(
            sandbox,
            record,
            str(update["ref"]),
            before=str(update["before"]),
            after=str(update["after"]),
            new_commits=[str(c) for c in update.get("new_commits") or []],
            fast_forward=bool(update.get("fast_forward", True)),
            who=who,
        )
        if messages:
            refusals.append({"ref": update["ref"], "messages": messages})
    return json_response({"refusals": refusals})


@router.post("/git/post-receive")
def post_receive(request: Request, body: Body) -> Response:
    """Called by the bare repositories' post-receive hook after a `git push`."""
    sandbox, record = _pushed_repo(request, body)
    git = sandbox.git(record)
    links = links_for(request)
    for line in str(body.get("updates", "")).splitlines():
        before, after, ref = line.split()
        pusher = record["owner"]
        if after != "0" * 40:
            email = (
                git.read_commit(after).committer.email if git.object_type(after) == "commit" else ""
            )
            account = sandbox.user_by_email(email)
            pusher = account["login"] if account else pusher
        on_ref_moved(sandbox, links, record, ref, before=before, after=after, sender=pusher)
    return json_response({"ok": True})
