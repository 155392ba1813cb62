"""Pull requests as git sees them, and the events that changes to refs and pull
requests send (push, pull_request)."""

from __future__ import annotations

from typing import Any

from promobot_sandbox.github.core import now
from promobot_sandbox.github.gitrepo import ZERO_SHA, GitRepo
from promobot_sandbox.github.mergeability import is_done, mergeable_state, start_job
from promobot_sandbox.github.protection import dismisses_stale
from promobot_sandbox.github.render_base import Json, Links, node_id, user
from promobot_sandbox.github.render_pulls import (
    PullView,
    label,
    pull_request,
    review,
    simple_pull_request,
    team,
    user_or_none,
)
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record

# What git says about a (repository, base, head) never changes: cache it.
_git_facts: dict[tuple[str, str, str], tuple[bool, int, int, int, int]] = {}


def scope_of(repo: Record) -> str:
    return str(repo["full_name"]).lower()


def publish_head(git: GitRepo, pr: Record) -> None:
    """`refs/pull/<number>/head` follows the head of an open pull request, and stays after it
    closes, as GitHub publishes them for fetching:
    https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/checking-out-pull-requests-locally
    """
    git.update_ref(f"refs/pull/{pr['number']}/head", pr["head_sha"])


def head_sha(git: GitRepo, pr: Record) -> str:
    if pr["state"] == "open":
        return git.ref_sha(f"refs/heads/{pr['head_ref']}") or pr["head_sha"]
    return str(pr["head_sha"])


def _facts(git: GitRepo, base: str, head: str) -> tuple[bool, int, int, int, int]:
    """(mergeable, commits, additions, deletions, changed files) of merging head into base."""
    key = (str(git.path), base, head)
    if key not in _git_facts:
        fork_point = git.merge_base(base, head) or base
        changes = git.diff(fork_point, head) if fork_point != head else []
        commits = len(git.rev_list(f"{fork_point}..{head}")) if fork_point != head else 0
        _git_facts[key] = (
            git.merged_tree(base, head) is not None,
            commits,
            sum(c.additions for c in changes),
            sum(c.deletions for c in changes),
            len(changes),
        )
    return _git_facts[key]


def _shas(git: GitRepo, pr: Record) -> tuple[str, str]:
    head = head_sha(git, pr)
    merged = pr.get("merged_at") is not None
    base = pr.get("base_sha") if merged or pr["state"] != "open" else None
    base = base or git.ref_sha(f"refs/heads/{pr['base_ref']}") or pr.get("base_sha") or head
    return head, base


def start_mergeability(sb: Sandbox, repo: Record, pr: Record) -> None:
    """Reading, creating or editing a pull request starts GitHub's mergeability job."""
    if pr.get("merged_at") is None:
        start_job(sb, pr, *_shas(sb.git(repo), pr))


def pull_view(sb: Sandbox, repo: Record, pr: Record, *, webhook: bool = False) -> PullView:
    """What git says about the pull request; `mergeable` stays null until the background
    job for its current head and base is done, and always in webhook payloads."""
    git = sb.git(repo)
    head, base = _shas(git, pr)
    clean, commits, additions, deletions, changed = _facts(git, base, head)
    mergeable: bool | None = None
    state = "unknown"
    if pr.get("merged_at") is None and not webhook and is_done(sb, pr, head, base):
        mergeable = clean
        state = mergeable_state(sb, repo, pr, head, base, clean)
    return PullView(
        head_sha=head,
        base_sha=base,
        mergeable=mergeable,
        mergeable_state=state,
        commits=commits,
        additions=additions,
        deletions=deletions,
        changed_files=changed,
    )


def render_pull(
    sb: Sandbox, links: Links, repo: Record, pr: Record, *, webhook: bool = False
) -> Json:
    scope = scope_of(repo)
    labels = [sb.store.find_one("label", scope=scope, key=name) for name in pr.get("labels", [])]
    teams = [
        sb.store.find_one("team", scope=repo["owner"].lower(), key=s)
        for s in pr.get("requested_teams", [])
    ]
    merged_by = sb.user(pr["merged_by"]) if pr.get("merged_by") else None
    parts: dict[str, Any] = {
        "user": sb.render_user(links, pr["user"]),
        "merged_by": user_or_none(links, merged_by),
        "labels": [label(links, repo["full_name"], r) for r in labels if r is not None],
        "requested_reviewers": [
            sb.render_user(links, login) for login in pr.get("requested_reviewers", [])
        ],
        "requested_teams": [team(links, t, webhook=webhook) for t in teams if t is not None],
        "author_association": sb.author_association(pr["user"], repo),
        "comments": len(sb.store.find("comment", scope=scope, key=pr["number"])),
    }
    view = pull_view(sb, repo, pr, webhook=webhook)
    return pull_request(links, sb.render_repo(links, repo), pr, view, parts)


def envelope(sb: Sandbox, links: Links, repo: Record, sender: str) -> Json:
    """The fields every webhook payload of a repository carries."""
    body: Json = {
        "repository": sb.render_repo(links, repo),
        "sender": sb.render_user(links, sender),
    }
    owner = sb.user(repo["owner"])
    if owner is not None and owner["type"] == "Organization":
        body["organization"] = organization(links, owner)
    return body


def organization(links: Links, org: Record) -> Json:
    api = f"{links.api}/orgs/{org['login']}"
    return {
        "login": org["login"],
        "id": org["id"],
        "node_id": node_id("Organization", org["id"]),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"{links.web}/avatars/{org['login']}",
        "description": None,
    }


def emit_pull_event(
    sb: Sandbox, links: Links, repo: Record, pr: Record, *, action: str, sender: str, **extra: Any
) -> None:
    payload = {
        "action": action,
        "number": pr["number"],
        **extra,
        "pull_request": render_pull(sb, links, repo, pr, webhook=True),
        **envelope(sb, links, repo, sender),
    }
    sb.emit(repo, "pull_request", payload)


def on_ref_moved(
    sb: Sandbox, links: Links, repo: Record, ref: str, *, before: str, after: str, sender: str
) -> None:
    """After any ref change (API, merge or `git push`): the push event, then
    `synchronize` for open pull requests whose head branch moved."""
    payload = push_payload(sb, links, repo, ref, before=before, after=after, sender=sender)
    sb.emit(repo, "push", payload)
    repo["pushed_at"] = now()
    sb.store.update("repo", repo)
    if not ref.startswith("refs/heads/") or after == ZERO_SHA:
        return
    branch = ref.removeprefix("refs/heads/")
    for pr in sb.store.find("pull", scope=scope_of(repo)):
        if pr["state"] == "open" and pr["head_ref"] == branch and pr["head_sha"] != after:
            previous = pr["head_sha"]
            pr.update(head_sha=after, updated_at=now(), last_pusher=sender)
            sb.store.update("pull", pr)
            publish_head(sb.git(repo), pr)
            if dismisses_stale(repo, pr["base_ref"]):
                _dismiss_approvals(sb, links, repo, pr, sender)
            emit_pull_event(
                sb,
                links,
                repo,
                pr,
                action="synchronize",
                sender=sender,
                before=previous,
                after=after,
            )


def _dismiss_approvals(sb: Sandbox, links: Links, repo: Record, pr: Record, sender: str) -> None:
    """ "Dismiss stale pull request approvals when new commits are pushed": every approval
    given so far becomes DISMISSED, with its `pull_request_review` `dismissed` event.
    https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-pull-request-reviews-before-merging
    """
    for record in sb.store.find("review", scope=scope_of(repo), key=pr["number"]):
        if record["state"] != "APPROVED":
            continue
        record["state"] = "DISMISSED"
        sb.store.update("review", record)
        rendered = review(
            links,
            repo["full_name"],
            record,
            sb.render_user(links, record["user"]),
            sb.author_association(record["user"], repo),
            webhook=True,
        )
        payload = {
            "action": "dismissed",
            "review": rendered,
            "pull_request": simple_pull_request(render_pull(sb, links, repo, pr, webhook=True)),
            **envelope(sb, links, repo, sender),
        }
        sb.emit(repo, "pull_request_review", payload)


def push_payload(
    sb: Sandbox, links: Links, repo: Record, ref: str, *, before: str, after: str, sender: str
) -> Json:
    git = sb.git(repo)
    created, deleted = before == ZERO_SHA, after == ZERO_SHA
    forced = not created and not deleted and not git.is_ancestor(before, after)
    shas: list[str] = []
    if not deleted:
        exclude = [] if created else [f"^{before}"]
        shas = list(reversed(git.rev_list(after, *exclude, limit=20)))
    commits = [_push_commit(links, repo["full_name"], git, sha) for sha in shas]
    head = (
        None
        if deleted
        else (commits[-1] if commits else _push_commit(links, repo["full_name"], git, after))
    )
    account = sb.user(sender)
    compare = f"{links.repo_web(repo['full_name'])}/compare/{before[:12]}...{after[:12]}"
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": compare,
        "commits": commits,
        "head_commit": head,
        "pusher": {"name": sender, "email": (account or {}).get("email")},
        **envelope(sb, links, repo, sender),
    }


def _push_commit(links: Links, full_name: str, git: GitRepo, sha: str) -> Json:
    info = git.read_commit(sha)
    parent = info.parents[0] if info.parents else None
    added: list[str] = []
    removed: list[str] = []
    modified: list[str] = []
    if parent is not None:
        for change in git.diff(parent, sha):
            {"added": added, "removed": removed}.get(change.status, modified).append(
                change.filename
            )
    else:
        added = [e.path for e in git.list_tree(info.tree, recursive=True) if e.type == "blob"]
    return {
        "id": sha,
        "tree_id": info.tree,
        "distinct": True,
        "message": info.message.rstrip("\n"),
        "timestamp": info.committer.date,
        "url": f"{links.repo_web(full_name)}/commit/{sha}",
        "author": {"name": info.author.name, "email": info.author.email},
        "committer": {"name": info.committer.name, "email": info.committer.email},
        "added": added,
        "removed": removed,
        "modified": modified,
    }


def sender_json(sb: Sandbox, links: Links, login: str) -> Json:
    record = sb.user(login)
    return user(links, record) if record else sb.render_user(links, login)
