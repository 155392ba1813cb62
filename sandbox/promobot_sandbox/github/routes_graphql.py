"""The two GraphQL mutations PyGithub sends for drafts (REST cannot flip `draft`):
`markPullRequestReadyForReview` and `convertPullRequestToDraft`."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import has_permission, json_response, now
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.permissions import NOT_ACCESSIBLE, has_level
from promobot_sandbox.github.pulls import emit_pull_event
from promobot_sandbox.github.routes_pulls import drafts_allowed
from promobot_sandbox.github.store import Record

router = APIRouter(prefix="/api")
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
MUTATIONS = {"markPullRequestReadyForReview": False, "convertPullRequestToDraft": True}


def _error(message: str) -> Response:
    return json_response({"data": None, "errors": [{"type": "UNPROCESSABLE", "message": message}]})


def _pull_by_node_id(ctx: Ctx, node: Any) -> tuple[Record, Record] | None:
    try:
        kind, _, raw_id = base64.b64decode(str(node)).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if kind != "PullRequest" or not raw_id.isdigit():
        return None
    pr = ctx.sb.store.get("pull", int(raw_id))
    if pr is None:
        return None
    for repo in ctx.sb.store.find("repo"):
        if ctx.sb.store.find_one("pull", scope=repo["full_name"].lower(), key=pr["number"]) == pr:
            return repo, pr
    return None


@router.post("/graphql")
def graphql(ctx: C, body: Body) -> Response:
    query = str(body.get("query", "")) if isinstance(body, dict) else ""
    match = re.search(r"\b(\w+)\(input:\s*\$input\)", query)
    if match is None or match.group(1) not in MUTATIONS:
        return _error(
            "The sandbox only answers markPullRequestReadyForReview and convertPullRequestToDraft."
        )
    name = match.group(1)
    mutation_input = (body.get("variables") or {}).get("input") or {}
    found = _pull_by_node_id(ctx, mutation_input.get("pullRequestId"))
    if found is None or ctx.sb.permission(ctx.who, found[0]) is None:
        node = mutation_input.get("pullRequestId")
        return _error(f"Could not resolve to a node with the global id of '{node}'")
    repo, pr = found
    if not has_permission(ctx.sb.permission(ctx.who, repo), "write") or (
        ctx.who.kind == "installation"
        and not has_level(ctx.who.granted.get("pull_requests"), "write")
    ):
        return _error(NOT_ACCESSIBLE)
    draft = MUTATIONS[name]
    if draft and not drafts_allowed(ctx, repo):
        return _error("Draft pull requests are not supported in this repository.")
    if bool(pr.get("draft")) != draft and pr["state"] == "open":
        pr.update(draft=draft, updated_at=now())
        ctx.sb.store.update("pull", pr)
        action = "converted_to_draft" if draft else "ready_for_review"
        emit_pull_event(ctx.sb, ctx.links, repo, pr, action=action, sender=ctx.who.login or "")
    result = {
        "clientMutationId": mutation_input.get("clientMutationId"),
        "pullRequest": {"isDraft": draft},
    }
    return json_response({"data": {name: result}})
