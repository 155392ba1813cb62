"""JSON representations of pull requests and what hangs off them (labels, comments,
reviews, issues), shaped like GitHub's REST responses and webhook payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promobot_sandbox.github.render_base import Json, Links, node_id, user
from promobot_sandbox.github.store import Record

# Keys of octokit's `simple-pull-request` (the review webhook's `pull_request`).
SIMPLE_PULL_KEYS = [
    "url",
    "id",
    "node_id",
    "html_url",
    "diff_url",
    "patch_url",
    "issue_url",
    "number",
    "state",
    "locked",
    "title",
    "user",
    "body",
    "created_at",
    "updated_at",
    "closed_at",
    "merged_at",
    "merge_commit_sha",
    "assignee",
    "assignees",
    "requested_reviewers",
    "requested_teams",
    "labels",
    "milestone",
    "draft",
    "commits_url",
    "review_comments_url",
    "review_comment_url",
    "comments_url",
    "statuses_url",
    "head",
    "base",
    "_links",
    "author_association",
    "auto_merge",
    "active_lock_reason",
]


@dataclass(frozen=True)
class PullView:
    """What git says about a pull request right now."""

    head_sha: str
    base_sha: str
    mergeable: bool | None
    mergeable_state: str
    commits: int
    additions: int
    deletions: int
    changed_files: int


def label(links: Links, full_name: str, record: Record) -> Json:
    return {
        "id": record["id"],
        "node_id": node_id("Label", record["id"]),
        "url": f"{links.repo_api(full_name)}/labels/{record['name']}",
        "name": record["name"],
        "color": record.get("color", "ededed"),
        "default": False,
        # GitHub answers null for a label without one, but `pull-request-simple` types it string.
        "description": record.get("description") or "",
    }


def team(links: Links, record: Record, *, webhook: bool = False) -> Json:
    api = f"{links.api}/orgs/{record['org']}/teams/{record['slug']}"
    body: Json = {
        "name": record["name"],
        "id": record["id"],
        "node_id": node_id("Team", record["id"]),
        "slug": record["slug"],
        "description": record.get("description"),
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "url": api,
        "html_url": f"{links.web}/orgs/{record['org']}/teams/{record['slug']}",
        "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos",
        "permission": "pull",
        "parent": None,
    }
    if not webhook:
        body["type"] = "organization"
    return body


def reactions(url: str) -> Json:
    counts = dict.fromkeys(
        ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0
    )
    return {"url": f"{url}/reactions", "total_count": 0, **counts}


def issue_comment(
    links: Links, full_name: str, record: Record, author: Json, association: str
) -> Json:
    api = links.repo_api(full_name)
    url = f"{api}/issues/comments/{record['id']}"
    return {
        "url": url,
        "html_url": f"{links.repo_web(full_name)}/pull/{record['issue_number']}"
        f"#issuecomment-{record['id']}",
        "issue_url": f"{api}/issues/{record['issue_number']}",
        "id": record["id"],
        "node_id": node_id("IssueComment", record["id"]),
        "user": author,
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "author_association": association,
        "body": record["body"],
        "reactions": reactions(url),
        "performed_via_github_app": None,
    }


def review(
    links: Links,
    full_name: str,
    record: Record,
    author: Json,
    association: str,
    *,
    webhook: bool = False,
) -> Json:
    pull_url = f"{links.repo_api(full_name)}/pulls/{record['pull_number']}"
    html = (
        f"{links.repo_web(full_name)}/pull/{record['pull_number']}#pullrequestreview-{record['id']}"
    )
    return {
        "id": record["id"],
        "node_id": node_id("PullRequestReview", record["id"]),
        "user": author,
        "body": record.get("body") or ("" if not webhook else None),
        "state": record["state"].lower() if webhook else record["state"],
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": record.get("submitted_at"),
        "commit_id": record["commit_id"],
        "author_association": association,
    }


def pull_request(
    links: Links,
    repo_json: Json,
    pr: Record,
    view: PullView,
    parts: dict[str, Any],
) -> Json:
    """The full pull request. `parts` holds the rendered user, merged_by, labels,
    requested reviewers and teams, author association and comment count."""
    full_name = repo_json["full_name"]
    api = links.repo_api(full_name)
    number = pr["number"]
    self_url = f"{api}/pulls/{number}"
    html = f"{links.repo_web(full_name)}/pull/{number}"
    owner = repo_json["owner"]
    links_block = {
        "self": {"href": self_url},
        "html": {"href": html},
        "issue": {"href": f"{api}/issues/{number}"},
        "comments": {"href": f"{api}/issues/{number}/comments"},
        "review_comments": {"href": f"{self_url}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{self_url}/commits"},
        "statuses": {"href": f"{api}/statuses/{view.head_sha}"},
    }
    merged = pr.get("merged_at") is not None
    return {
        "url": self_url,
        "id": pr["id"],
        "node_id": node_id("PullRequest", pr["id"]),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{number}",
        "number": number,
        "state": pr["state"],
        "locked": False,
        "title": pr["title"],
        "user": parts["user"],
        "body": pr.get("body"),
        "created_at": pr["created_at"],
        "updated_at": pr["updated_at"],
        "closed_at": pr.get("closed_at"),
        "merged_at": pr.get("merged_at"),
        "merge_commit_sha": pr.get("merge_commit_sha"),
        "assignee": None,
        "assignees": [],
        "requested_reviewers": parts["requested_reviewers"],
        "requested_teams": parts["requested_teams"],
        "labels": parts["labels"],
        "milestone": None,
        "draft": bool(pr.get("draft", False)),
        "commits_url": f"{self_url}/commits",
        "review_comments_url": f"{self_url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": f"{api}/statuses/{view.head_sha}",
        "head": _branch(pr["head_ref"], view.head_sha, owner, repo_json),
        "base": _branch(pr["base_ref"], view.base_sha, owner, repo_json),
        "_links": links_block,
        "author_association": parts["author_association"],
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": merged,
        "mergeable": view.mergeable,
        "rebaseable": view.mergeable,
        "mergeable_state": view.mergeable_state,
        "merged_by": parts["merged_by"],
        "comments": parts["comments"],
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": view.commits,
        "additions": view.additions,
        "deletions": view.deletions,
        "changed_files": view.changed_files,
    }


def simple_pull_request(full: Json) -> Json:
    return {key: full[key] for key in SIMPLE_PULL_KEYS}


def _branch(ref: str, sha: str, owner: Json, repo_json: Json) -> Json:
    return {
        "label": f"{owner['login']}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": owner,
        "repo": repo_json,
    }


def issue_of_pull(full_pull: Json, issue_id: int) -> Json:
    """The issue side of a pull request (`/issues/{n}` and the issue_comment payload)."""
    api = full_pull["issue_url"]
    repo_api = api.rsplit("/issues/", 1)[0]
    return {
        "url": api,
        "repository_url": repo_api,
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": full_pull["html_url"],
        "id": issue_id,
        "node_id": node_id("Issue", issue_id),
        "number": full_pull["number"],
        "title": full_pull["title"],
        "user": full_pull["user"],
        "labels": full_pull["labels"],
        "state": full_pull["state"],
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": full_pull["comments"],
        "created_at": full_pull["created_at"],
        "updated_at": full_pull["updated_at"],
        "closed_at": full_pull["closed_at"],
        "author_association": full_pull["author_association"],
        "active_lock_reason": None,
        "draft": full_pull["draft"],
        "pull_request": {
            "url": full_pull["url"],
            "html_url": full_pull["html_url"],
            "diff_url": full_pull["diff_url"],
            "patch_url": full_pull["patch_url"],
            "merged_at": full_pull["merged_at"],
        },
        "body": full_pull["body"],
        "reactions": reactions(api),
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": None,
        "state_reason": None,
    }


def user_or_none(links: Links, record: Record | None) -> Json | None:
    return None if record is None else user(links, record)
