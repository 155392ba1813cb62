"""The GitHub App permissions and webhook events promobot needs, and why.

One table serves three readers: `promobot app-manifest` (the manifest GitHub's
"register an App from a manifest" flow takes), `promobot doctor` and the service's
readiness (which compare it with what an installation was granted), and the hint of a
403 (which names the permission the refused endpoint needs). Permission names and
levels are GitHub's: https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Level(enum.IntEnum):
    """A permission level; a higher one includes the lower."""

    NONE = 0
    READ = 1
    WRITE = 2

    @classmethod
    def parse(cls, value: object) -> Level:
        """GitHub's `read` / `write` (and `admin`, which includes write)."""
        return {"read": cls.READ, "write": cls.WRITE, "admin": cls.WRITE}.get(str(value), cls.NONE)


@dataclass(frozen=True)
class Need:
    """One permission promobot needs: its name, level, and what it is for."""

    name: str
    level: Level
    title: str
    why: str


NEEDS: tuple[Need, ...] = (
    Need("metadata", Level.READ, "Repository metadata", "collaborator permissions (mandatory)"),
    Need(
        "contents",
        Level.WRITE,
        "Repository contents",
        "read manifests and policies; commit the promotion; merge (PUT .../merge); revert",
    ),
    Need(
        "pull_requests",
        Level.WRITE,
        "Pull requests",
        "open, update and close promotion pull requests; reviews; review requests; drafts",
    ),
    Need("issues", Level.WRITE, "Issues", "labels and comments on pull requests"),
    Need("checks", Level.WRITE, "Checks", "the promobot/policy check run with its annotations"),
    Need("statuses", Level.WRITE, "Commit statuses", "read required statuses; token-mode verdict"),
    Need("deployments", Level.WRITE, "Deployments", "a deployment and its statuses per apply"),
    Need(
        "members",
        Level.READ,
        "Organization members",
        "team membership of approvers and commanders; team review requests",
    ),
)
"""Every permission promobot's App needs (`members` is an organization permission)."""

EVENTS: tuple[str, ...] = (
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "status",
    "check_run",
    "push",
)
"""The webhook events to subscribe to; `repository_dispatch` reaches every App with
Contents access without a subscription."""

_ENDPOINT_NEEDS: tuple[tuple[str, str, str], ...] = (
    ("*", r"/orgs/[^/]+/teams/", "members"),
    ("POST", r"/pulls/\d+/requested_reviewers$", "members"),
    ("*", r"/check-runs", "checks"),
    ("*", r"/check-suites", "checks"),
    ("POST", r"/statuses/", "statuses"),
    ("GET", r"/commits/[^/]+/status", "statuses"),
    ("*", r"/deployments", "deployments"),
    ("*", r"/issues/", "issues"),
    ("*", r"/labels", "issues"),
    ("PUT", r"/pulls/\d+/merge$", "contents"),
    ("*", r"/pulls", "pull_requests"),
    ("*", r"/(contents|git|branches|commits|merges)(/|$)", "contents"),
    ("*", r"/collaborators/", "metadata"),
)
"""Which permission an endpoint needs, first match wins (GitHub's permission tables)."""


def need_of(name: str) -> Need:
    """The entry of `NEEDS` for permission `name`."""
    return next(need for need in NEEDS if need.name == name)


def permission_for(method: str, path: str) -> Need | None:
    """The permission a request needs, when promobot knows it."""
    for verb, pattern, name in _ENDPOINT_NEEDS:
        if verb in ("*", method.upper()) and re.search(pattern, path):
            return need_of(name)
    return None


def missing_permissions(granted: Mapping[str, Any]) -> list[Need]:
    """What an installation lacks, from its `permissions` map (`{"contents": "write", ...}`)."""
    return [need for need in NEEDS if Level.parse(granted.get(need.name)) < need.level]


def describe_need(need: Need) -> str:
    """`Organization members: read (team membership of approvers ...)`."""
    return f"{need.title}: {need.level.name.lower()} ({need.why})"


def required_permissions() -> dict[str, str]:
    """`NEEDS` as GitHub writes an App's permissions: `{"contents": "write", ...}`."""
    return {need.name: need.level.name.lower() for need in NEEDS}


def app_manifest(name: str, webhook_url: str, homepage: str) -> dict[str, Any]:
    """The manifest of GitHub's App manifest flow, with exactly what promobot needs.

    https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
    """
    return {
        "name": name,
        "url": homepage,
        "hook_attributes": {"url": webhook_url, "active": True},
        "public": False,
        "default_permissions": required_permissions(),
        "default_events": list(EVENTS),
    }
