"""Plain pages for people: the pull request a demo prints a link to."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from promobot_sandbox.github.core import not_found
from promobot_sandbox.github.deps import links_for
from promobot_sandbox.github.pulls import pull_view, scope_of
from promobot_sandbox.github.sandbox import Sandbox

router = APIRouter()


@router.get("/{owner}/{repo}/pull/{number}", response_class=HTMLResponse)
def pull_page(owner: str, repo: str, number: int, request: Request) -> HTMLResponse:
    sandbox: Sandbox = request.app.state.sandbox
    record = sandbox.repo(owner, repo)
    pr = (
        None
        if record is None
        else sandbox.store.find_one("pull", scope=scope_of(record), key=number)
    )
    if record is None or pr is None or record.get("private"):
        raise not_found()
    view = pull_view(sandbox, record, pr)
    state = "merged" if pr.get("merged_at") else pr["state"]
    comments = "".join(
        f"<li><b>{escape(c['user'])}</b>: <pre>{escape(c['body'])}</pre></li>"
        for c in sandbox.store.find("comment", scope=scope_of(record), key=number)
    )
    statuses = "".join(
        f"<li>{escape(s['context'])}: {escape(s['state'])} "
        f"{escape(s.get('description') or '')}</li>"
        for s in sandbox.store.find("status", scope=scope_of(record), key=view.head_sha)
    )
    api = f"{links_for(request).repo_api(record['full_name'])}/pulls/{number}"
    page = (
        f"<!doctype html><title>{escape(pr['title'])}</title>"
        f"<h1>{escape(pr['title'])} #{number}</h1>"
        f"<p>{escape(state)} · {escape(pr['head_ref'])} → {escape(pr['base_ref'])}"
        f" · head {view.head_sha[:12]}"
        f" · labels: {escape(', '.join(pr['labels']) or 'none')}"
        f" · <a href='{escape(api)}'>API</a></p>"
        f"<pre>{escape(pr.get('body') or '')}</pre><h2>Statuses</h2><ul>{statuses}</ul>"
        f"<h2>Comments</h2><ul>{comments}</ul>"
    )
    return HTMLResponse(page)
