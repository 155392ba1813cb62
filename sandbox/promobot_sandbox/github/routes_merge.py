"""Merging pull requests (merge, squash, rebase: real commits) and reviews."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import (
    MAX_BODY,
    ApiError,
    invalid,
    json_response,
    not_found,
    now,
    paginate,
    too_long_text,
)
from promobot_sandbox.github.deps import Ctx, context, json_body
from promobot_sandbox.github.gitrepo import GitError, GitRepo, Person
from promobot_sandbox.github.mergeability import computed_base
from promobot_sandbox.github.protection import PROTECTION_DOCS, merge_blockers
from promobot_sandbox.github.pulls import (
    emit_pull_event,
    envelope,
    on_ref_moved,
    pull_view,
    render_pull,
    scope_of,
    start_mergeability,
)
from promobot_sandbox.github.render_pulls import review, simple_pull_request
from promobot_sandbox.github.routes_pulls import find_pull
from promobot_sandbox.github.store import Record
from promobot_sandbox.github.verification import mark_verified

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
Body = Annotated[Any, Depends(json_body)]
PULL = "/repos/{owner}/{repo}/pulls/{number}"
WEB_FLOW = Person("GitHub", "noreply@github.com", "")
BASE_MODIFIED = "Base branch was modified. Review and try the merge again."


@router.get(PULL + "/merge")
def is_merged(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    if find_pull(ctx, record, number).get("merged_at"):
        return Response(status_code=204)
    raise not_found()


@router.put(PULL + "/merge")
def merge_pull(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    """405 when GitHub would not merge (closed, draft, conflicts, protection unmet, or
    the base moved since mergeability was computed); 409 only for a stale `sha`.
    https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request"""
    record = ctx.require(owner, repo, "write")
    pr = find_pull(ctx, record, number)
    method = body.get("merge_method") or "merge"
    if method not in ("merge", "squash", "rebase"):
        raise invalid("PullRequest", "merge_method", "merge_method must be merge, squash or rebase")
    if pr["state"] != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if pr.get("draft"):
        raise ApiError(405, "Draft pull requests cannot be merged.")
    view = pull_view(ctx.sb, record, pr)
    expected = body.get("sha")
    if expected is not None and expected != view.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    if computed_base(ctx.sb, pr) != view.base_sha:
        start_mergeability(ctx.sb, record, pr)
        raise ApiError(405, BASE_MODIFIED)
    git = ctx.sb.git(record)
    if git.merged_tree(view.base_sha, view.head_sha) is None:
        raise ApiError(405, "Pull Request is not mergeable")
    blockers = merge_blockers(
        ctx.sb, record, pr, view.head_sha, view.base_sha, method=method, who=ctx.who
    )
    if blockers:
        raise ApiError(405, blockers[0].message, docs=PROTECTION_DOCS)
    # One moment for the merge commit and `merged_at`, as GitHub shows them.
    stamp = now()
    sha = _merge_commit(
        ctx, git, record, pr, body, base=view.base_sha, head=view.head_sha, stamp=stamp
    )
    if method != "rebase":
        mark_verified(ctx.sb.store, record, sha)
    ref = f"refs/heads/{pr['base_ref']}"
    try:
        git.update_ref(ref, sha, view.base_sha)
    except GitError as error:
        raise ApiError(405, BASE_MODIFIED) from error
    pr.update(
        state="closed",
        merged_at=stamp,
        closed_at=stamp,
        updated_at=stamp,
        merged_by=ctx.who.login,
        merge_commit_sha=sha,
        head_sha=view.head_sha,
        base_sha=view.base_sha,
    )
    ctx.sb.store.update("pull", pr)
    record["open_issues"] = max(record.get("open_issues", 1) - 1, 0)
    ctx.sb.store.update("repo", record)
    sender = ctx.who.login or ""
    on_ref_moved(ctx.sb, ctx.links, record, ref, before=view.base_sha, after=sha, sender=sender)
    emit_pull_event(ctx.sb, ctx.links, record, pr, action="closed", sender=sender)
    return json_response(
        {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
    )


@router.put(PULL + "/update-branch")
def update_branch(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    """Merge the base into the head branch with a merge commit GitHub makes (and signs),
    as the "Update branch" button does; 202 once it is queued.
    https://docs.github.com/en/rest/pulls/pulls#update-a-pull-request-branch"""
    record = ctx.require(owner, repo, "write")
    pr = find_pull(ctx, record, number)
    if pr["state"] != "open":
        raise ApiError(422, "Pull request is not open.")
    view = pull_view(ctx.sb, record, pr)
    expected = body.get("expected_head_sha") if isinstance(body, dict) else None
    if expected is not None and expected != view.head_sha:
        raise ApiError(422, "expected head sha didn't match current head ref.")
    git = ctx.sb.git(record)
    if git.is_ancestor(view.base_sha, view.head_sha):
        raise ApiError(422, "There are no new commits on the base branch.")
    tree = git.merged_tree(view.head_sha, view.base_sha)
    if tree is None:
        raise ApiError(422, "merge conflict between base and head")
    stamp = now()
    caller = ctx.sb.user(ctx.who.login or "") or {}
    author = Person(caller.get("name") or ctx.who.login or "", caller.get("email") or "", stamp)
    message = f"Merge branch '{pr['base_ref']}' into {pr['head_ref']}\n"
    sha = git.write_commit(
        tree,
        [view.head_sha, view.base_sha],
        message,
        author,
        Person(WEB_FLOW.name, WEB_FLOW.email, stamp),
    )
    mark_verified(ctx.sb.store, record, sha)
    ref = f"refs/heads/{pr['head_ref']}"
    try:
        git.update_ref(ref, sha, view.head_sha)
    except GitError as error:
        raise ApiError(422, "expected head sha didn't match current head ref.") from error
    sender = ctx.who.login or ""
    on_ref_moved(ctx.sb, ctx.links, record, ref, before=view.head_sha, after=sha, sender=sender)
    url = f"{ctx.links.repo_web(record['full_name'])}/pull/{number}"
    return json_response({"message": "Updating pull request branch.", "url": url}, 202)


def _merge_commit(
    ctx: Ctx,
    git: GitRepo,
    record: Record,
    pr: Record,
    body: Any,
    *,
    base: str,
    head: str,
    stamp: str,
) -> str:
    method = body.get("merge_method") or "merge"
    committer = Person(WEB_FLOW.name, WEB_FLOW.email, stamp)
    merger = ctx.sb.user(ctx.who.login or "") or {}
    merger_person = Person(
        merger.get("name") or ctx.who.login or "", merger.get("email") or "", stamp
    )
    if method == "rebase":
        fork_point = git.merge_base(base, head) or base
        commits = list(reversed(git.rev_list(f"{fork_point}..{head}", "--no-merges")))
        tip = git.rebased(base, commits, committer)
        if tip is None:
            raise ApiError(405, "This branch can't be rebased")
        return tip
    tree = git.merged_tree(base, head)
    if tree is None:
        raise ApiError(405, "Pull Request is not mergeable")
    if method == "squash":
        title = body.get("commit_title") or f"{pr['title']} (#{pr['number']})"
        fork_point = git.merge_base(base, head) or base
        default = "\n\n".join(
            f"* {git.read_commit(s).message.strip()}"
            for s in reversed(git.rev_list(f"{fork_point}..{head}"))
        )
        message = body.get("commit_message", default)
        author_record = ctx.sb.user(pr["user"]) or merger
        author = Person(
            author_record.get("name") or pr["user"], author_record.get("email") or "", stamp
        )
        return git.write_commit(tree, [base], _join(title, message), author, committer)
    title = (
        body.get("commit_title")
        or f"Merge pull request #{pr['number']} from {record['owner']}/{pr['head_ref']}"
    )
    message = body.get("commit_message", pr["title"])
    return git.write_commit(tree, [base, head], _join(title, message), merger_person, committer)


def _join(title: str, message: str | None) -> str:
    return f"{title}\n\n{message}\n" if message else f"{title}\n"


# --- reviews ---------------------------------------------------------------------------

_REVIEW_STATES = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


def review_json(ctx: Ctx, record: Record, rec: Record, *, webhook: bool = False) -> dict[str, Any]:
    return review(
        ctx.links,
        record["full_name"],
        rec,
        ctx.sb.render_user(ctx.links, rec["user"]),
        ctx.sb.author_association(rec["user"], record),
        webhook=webhook,
    )


@router.get(PULL + "/reviews")
def list_reviews(owner: str, repo: str, number: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    find_pull(ctx, record, number)
    reviews = ctx.sb.store.find("review", scope=scope_of(record), key=number)
    visible = [r for r in reviews if r["state"] != "PENDING" or r["user"] == ctx.who.login]
    return paginate(ctx.request, [review_json(ctx, record, r) for r in visible])


@router.get(PULL + "/reviews/{review_id}")
def get_review(owner: str, repo: str, number: int, review_id: int, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    rec = ctx.sb.store.get("review", review_id)
    if rec is None or rec["pull_number"] != number or rec["repo"] != scope_of(record):
        raise not_found()
    return json_response(review_json(ctx, record, rec))


@router.post(PULL + "/reviews")
def create_review(owner: str, repo: str, number: int, ctx: C, body: Body) -> Response:
    record = ctx.require(owner, repo, "read")
    pr = find_pull(ctx, record, number)
    login = ctx.who.login or ""
    event = body.get("event")
    if event is not None and event not in _REVIEW_STATES:
        raise invalid(
            "PullRequestReview", "event", "event must be APPROVE, REQUEST_CHANGES or COMMENT"
        )
    # This endpoint's 422 lists its errors as plain strings.
    if len(str(body.get("body") or "")) > MAX_BODY:
        raise ApiError(422, "Unprocessable Entity", errors=[too_long_text("Body", MAX_BODY)])
    if event == "APPROVE" and login.lower() == pr["user"].lower():
        raise ApiError(
            422, "Unprocessable Entity", errors=["Can not approve your own pull request"]
        )
    if event in ("REQUEST_CHANGES", "COMMENT") and not body.get("body"):
        raise ApiError(422, "Unprocessable Entity", errors=[f"Body is required for {event}"])
    commit_id = body.get("commit_id") or pull_view(ctx.sb, record, pr).head_sha
    rec = ctx.sb.store.insert(
        "review",
        {
            "repo": scope_of(record),
            "pull_number": number,
            "user": login,
            "body": body.get("body") or "",
            "state": _REVIEW_STATES.get(event or "", "PENDING"),
            "commit_id": commit_id,
            "submitted_at": now() if event else None,
        },
        scope=scope_of(record),
        key=number,
    )
    if event:
        pr["requested_reviewers"] = [
            r for r in pr["requested_reviewers"] if r.lower() != login.lower()
        ]
        ctx.sb.store.update("pull", pr)
        payload = {
            "action": "submitted",
            "review": review_json(ctx, record, rec, webhook=True),
            "pull_request": simple_pull_request(
                render_pull(ctx.sb, ctx.links, record, pr, webhook=True)
            ),
            **envelope(ctx.sb, ctx.links, record, login),
        }
        ctx.sb.emit(record, "pull_request_review", payload)
    return json_response(review_json(ctx, record, rec))


__all__ = ["emit_pull_event", "router"]
