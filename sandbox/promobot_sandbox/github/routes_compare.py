"""Comparing refs, and the pull requests a commit belongs to (for history and for
spotting human commits on a promotion branch)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import json_response, not_found, paginate
from promobot_sandbox.github.deps import Ctx, context
from promobot_sandbox.github.pulls import render_pull, scope_of
from promobot_sandbox.github.routes_git import commit_json, file_json

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
REPO = "/repos/{owner}/{repo}"


@router.get(REPO + "/compare/{basehead:path}")
def compare(owner: str, repo: str, basehead: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    base_name, sep, head_name = basehead.partition("...")
    base, head = git.resolve(base_name), git.resolve(head_name)
    if not sep or base is None or head is None:
        raise not_found()
    fork_point = git.merge_base(base, head) or base
    ahead = list(reversed(git.rev_list(f"{base}..{head}")))
    behind = git.rev_list(f"{head}..{base}")
    status = (
        "identical"
        if base == head
        else ("diverged" if ahead and behind else ("ahead" if ahead else "behind"))
    )
    api = ctx.links.repo_api(record["full_name"])
    web = ctx.links.repo_web(record["full_name"])
    return json_response(
        {
            "url": f"{api}/compare/{basehead}",
            "html_url": f"{web}/compare/{basehead}",
            "permalink_url": f"{web}/compare/{base}...{head}",
            "diff_url": f"{web}/compare/{basehead}.diff",
            "patch_url": f"{web}/compare/{basehead}.patch",
            "base_commit": commit_json(ctx, record, git, base),
            "merge_base_commit": commit_json(ctx, record, git, fork_point),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [commit_json(ctx, record, git, sha) for sha in ahead],
            "files": [
                file_json(ctx, record, head, change) for change in git.diff(fork_point, head)
            ],
        }
    )


@router.get(REPO + "/commits/{sha}/pulls")
def pulls_of_commit(owner: str, repo: str, sha: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    resolved = ctx.sb.git(record).resolve(sha)
    if resolved is None:
        raise not_found()
    found = [
        pr
        for pr in ctx.sb.store.find("pull", scope=scope_of(record))
        if resolved in (pr.get("merge_commit_sha"), pr.get("head_sha"))
    ]
    return paginate(ctx.request, [render_pull(ctx.sb, ctx.links, record, pr) for pr in found])
