"""JSON representations of users, repositories and git objects, shaped like GitHub's.

Every builder takes `Links` (the sandbox's address as the caller sees it) so that URLs
in responses point back at the sandbox: PyGithub follows them for later calls. The
objects hold exactly the fields both GitHub's REST description and octokit's webhook
schemas allow, so one builder serves both; REST-only extras are added by the routes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from promobot_sandbox.github.gitrepo import CommitInfo, Person
from promobot_sandbox.github.store import Record

Json = dict[str, Any]


@dataclass(frozen=True)
class Links:
    """Where the sandbox is reached: `web` for pages, `api` for the REST root."""

    web: str

    @property
    def api(self) -> str:
        return f"{self.web}/api/v3"

    def repo_api(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"

    def repo_web(self, full_name: str) -> str:
        return f"{self.web}/{full_name}"


def node_id(kind: str, record_id: int | str) -> str:
    return base64.b64encode(f"{kind}:{record_id}".encode()).decode()


def user(links: Links, record: Record) -> Json:
    login = record["login"]
    api_user = f"{links.api}/users/{login}"
    return {
        "login": login,
        "id": record["id"],
        "node_id": node_id(record["type"], record["id"]),
        "avatar_url": f"{links.web}/avatars/{login}",
        "gravatar_id": "",
        "url": api_user,
        "html_url": f"{links.web}/{login}",
        "followers_url": f"{api_user}/followers",
        "following_url": f"{api_user}/following{{/other_user}}",
        "gists_url": f"{api_user}/gists{{/gist_id}}",
        "starred_url": f"{api_user}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api_user}/subscriptions",
        "organizations_url": f"{api_user}/orgs",
        "repos_url": f"{api_user}/repos",
        "events_url": f"{api_user}/events{{/privacy}}",
        "received_events_url": f"{api_user}/received_events",
        "type": record["type"],
        "site_admin": bool(record.get("site_admin", False)),
    }


_REPO_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repository(links: Links, repo: Record, owner: Record, clone_url: str) -> Json:
    """The `repository` object of REST responses and webhook payloads."""
    full_name = repo["full_name"]
    api = links.repo_api(full_name)
    host = links.web.split("://", 1)[-1]
    body: Json = {
        "id": repo["id"],
        "node_id": node_id("Repository", repo["id"]),
        "name": repo["name"],
        "full_name": full_name,
        "private": bool(repo.get("private", False)),
        "owner": user(links, owner),
        "html_url": links.repo_web(full_name),
        "description": repo.get("description"),
        "fork": False,
        "url": api,
    }
    body.update({field: api + suffix for field, suffix in _REPO_TEMPLATES.items()})
    body.update(
        {
            "created_at": repo["created_at"],
            "updated_at": repo.get("updated_at", repo["created_at"]),
            "pushed_at": repo.get("pushed_at", repo["created_at"]),
            "git_url": f"git://{host}/{full_name}.git",
            "ssh_url": f"git@{host}:{full_name}.git",
            "clone_url": clone_url,
            "svn_url": links.repo_web(full_name),
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": repo.get("open_issues", 0),
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.get("private") else "public",
            "forks": 0,
            "open_issues": repo.get("open_issues", 0),
            "watchers": 0,
            "default_branch": repo["default_branch"],
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_rebase_merge": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "custom_properties": {},
        }
    )
    return body


def git_person(person: Person) -> Json:
    return {"name": person.name, "email": person.email, "date": person.date}


def parent_link(links: Links, full_name: str, sha: str) -> Json:
    return {
        "sha": sha,
        "url": f"{links.repo_api(full_name)}/commits/{sha}",
        "html_url": f"{links.repo_web(full_name)}/commit/{sha}",
    }


def unsigned() -> Json:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def git_commit(
    links: Links, full_name: str, info: CommitInfo, verification: Json | None = None
) -> Json:
    """The Git Data API's commit object (`/git/commits/{sha}`)."""
    api = links.repo_api(full_name)
    return {
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "url": f"{api}/git/commits/{info.sha}",
        "html_url": f"{links.repo_web(full_name)}/commit/{info.sha}",
        "author": git_person(info.author),
        "committer": git_person(info.committer),
        "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
        "message": info.message,
        "parents": [
            {**parent_link(links, full_name, p), "url": f"{api}/git/commits/{p}"}
            for p in info.parents
        ],
        "verification": verification or unsigned(),
    }


def commit(
    links: Links,
    full_name: str,
    info: CommitInfo,
    author: Json | None,
    committer: Json | None,
    verification: Json | None = None,
) -> Json:
    """The repository commit object (`/commits/{ref}`), with GitHub users when known."""
    api = links.repo_api(full_name)
    return {
        "url": f"{api}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "html_url": f"{links.repo_web(full_name)}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": git_person(info.author),
            "committer": git_person(info.committer),
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "verification": verification or unsigned(),
        },
        "author": author,
        "committer": committer,
        "parents": [parent_link(links, full_name, p) for p in info.parents],
    }


def git_ref(links: Links, full_name: str, ref: str, sha: str, kind: str) -> Json:
    api = links.repo_api(full_name)
    target = "commits" if kind == "commit" else f"{kind}s"
    return {
        "ref": ref,
        "node_id": node_id("Ref", f"{full_name}:{ref}"),
        "url": f"{api}/git/{ref}",
        "object": {"type": kind, "sha": sha, "url": f"{api}/git/{target}/{sha}"},
    }
