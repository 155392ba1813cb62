"""What a GitHub App's installation token may do, endpoint by endpoint.

GitHub answers 403 "Resource not accessible by integration" when the App lacks the
permission an endpoint needs, and says which ones it would accept in the
`X-Accepted-GitHub-Permissions` header. The table below follows
https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
(each entry: groups that must all be met, any permission of a group meeting it).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product

from promobot_sandbox.github.core import ApiError

Group = tuple[tuple[str, str], ...]
Needs = tuple[Group, ...]

LEVELS = ("read", "write", "admin")
PERMISSIONS_DOCS = (
    "https://docs.github.com/rest/authentication/permissions-required-for-github-apps"
)
NOT_ACCESSIBLE = "Resource not accessible by integration"


def _one(name: str, level: str) -> Needs:
    return (((name, level),),)


def _either(first: str, second: str, level: str) -> Needs:
    return (((first, level), (second, level)),)


METADATA = _one("metadata", "read")
CONTENTS_READ, CONTENTS_WRITE = _one("contents", "read"), _one("contents", "write")
PULLS_READ, PULLS_WRITE = _one("pull_requests", "read"), _one("pull_requests", "write")
# Issues and pull requests share comments and labels: either permission will do.
ISSUES_READ = _either("issues", "pull_requests", "read")
ISSUES_WRITE = _either("issues", "pull_requests", "write")
STATUSES_READ, STATUSES_WRITE = _one("statuses", "read"), _one("statuses", "write")
CHECKS_READ, CHECKS_WRITE = _one("checks", "read"), _one("checks", "write")
DEPLOYMENTS_READ = _one("deployments", "read")
DEPLOYMENTS_WRITE = _one("deployments", "write")
HOOKS_READ, HOOKS_WRITE = _one("repository_hooks", "read"), _one("repository_hooks", "write")
ADMINISTRATION_READ = _one("administration", "read")
MEMBERS_READ = _one("members", "read")
NOTHING: Needs = ()

REPO = "/repos/{owner}/{repo}"
PULL = REPO + "/pulls/{number}"
ROUTES: dict[tuple[str, str], Needs] = {
    ("GET", REPO): METADATA,
    ("GET", REPO + "/collaborators/{username}/permission"): METADATA,
    ("GET", REPO + "/collaborators/{username}"): METADATA,
    ("GET", REPO + "/rules/branches/{branch:path}"): METADATA,
    # Contents: files, the Git Data API, commits, branches, merging, dispatches.
    ("GET", REPO + "/contents"): CONTENTS_READ,
    ("GET", REPO + "/contents/{path:path}"): CONTENTS_READ,
    ("PUT", REPO + "/contents/{path:path}"): CONTENTS_WRITE,
    ("GET", REPO + "/git/matching-refs/{ref:path}"): CONTENTS_READ,
    ("GET", REPO + "/git/refs"): CONTENTS_READ,
    ("GET", REPO + "/git/refs/{ref:path}"): CONTENTS_READ,
    ("GET", REPO + "/git/ref/{ref:path}"): CONTENTS_READ,
    ("POST", REPO + "/git/refs"): CONTENTS_WRITE,
    ("PATCH", REPO + "/git/refs/{ref:path}"): CONTENTS_WRITE,
    ("DELETE", REPO + "/git/refs/{ref:path}"): CONTENTS_WRITE,
    ("POST", REPO + "/git/blobs"): CONTENTS_WRITE,
    ("GET", REPO + "/git/blobs/{sha}"): CONTENTS_READ,
    ("POST", REPO + "/git/trees"): CONTENTS_WRITE,
    ("GET", REPO + "/git/trees/{sha}"): CONTENTS_READ,
    ("POST", REPO + "/git/commits"): CONTENTS_WRITE,
    ("GET", REPO + "/git/commits/{sha}"): CONTENTS_READ,
    ("GET", REPO + "/commits"): CONTENTS_READ,
    ("GET", REPO + "/commits/{ref:path}"): CONTENTS_READ,
    ("GET", REPO + "/compare/{basehead:path}"): CONTENTS_READ,
    ("GET", REPO + "/branches"): CONTENTS_READ,
    ("GET", REPO + "/branches/{branch:path}"): CONTENTS_READ,
    ("PUT", PULL + "/merge"): CONTENTS_WRITE,
    ("POST", REPO + "/dispatches"): CONTENTS_WRITE,
    # Pull requests.
    ("GET", REPO + "/pulls"): PULLS_READ,
    ("POST", REPO + "/pulls"): PULLS_WRITE,
    ("GET", PULL): PULLS_READ,
    ("PATCH", PULL): PULLS_WRITE,
    ("GET", PULL + "/files"): PULLS_READ,
    ("GET", PULL + "/commits"): PULLS_READ,
    ("GET", PULL + "/merge"): PULLS_READ,
    ("GET", PULL + "/reviews"): PULLS_READ,
    ("GET", PULL + "/reviews/{review_id}"): PULLS_READ,
    ("POST", PULL + "/reviews"): PULLS_WRITE,
    ("GET", PULL + "/requested_reviewers"): PULLS_READ,
    ("POST", PULL + "/requested_reviewers"): PULLS_WRITE,
    ("DELETE", PULL + "/requested_reviewers"): PULLS_WRITE,
    ("PUT", PULL + "/update-branch"): (*PULLS_WRITE, *CONTENTS_WRITE),
    ("GET", REPO + "/commits/{sha}/pulls"): (*CONTENTS_READ, *PULLS_READ),
    # Issues (comments and labels of pull requests).
    ("GET", REPO + "/issues/{number}"): ISSUES_READ,
    ("GET", REPO + "/issues/{number}/comments"): ISSUES_READ,
    ("POST", REPO + "/issues/{number}/comments"): ISSUES_WRITE,
    ("GET", REPO + "/issues/comments/{comment_id}"): ISSUES_READ,
    ("PATCH", REPO + "/issues/comments/{comment_id}"): ISSUES_WRITE,
    ("DELETE", REPO + "/issues/comments/{comment_id}"): ISSUES_WRITE,
    ("GET", REPO + "/issues/{number}/labels"): ISSUES_READ,
    ("POST", REPO + "/issues/{number}/labels"): ISSUES_WRITE,
    ("PUT", REPO + "/issues/{number}/labels"): ISSUES_WRITE,
    ("DELETE", REPO + "/issues/{number}/labels/{name}"): ISSUES_WRITE,
    ("GET", REPO + "/labels"): ISSUES_READ,
    ("POST", REPO + "/labels"): ISSUES_WRITE,
    ("GET", REPO + "/labels/{name}"): ISSUES_READ,
    # Commit statuses and checks.
    ("POST", REPO + "/statuses/{sha}"): STATUSES_WRITE,
    ("GET", REPO + "/commits/{ref:path}/status"): STATUSES_READ,
    ("GET", REPO + "/commits/{ref:path}/statuses"): STATUSES_READ,
    ("GET", REPO + "/statuses/{ref:path}"): STATUSES_READ,
    ("POST", REPO + "/check-runs"): CHECKS_WRITE,
    ("PATCH", REPO + "/check-runs/{check_run_id}"): CHECKS_WRITE,
    ("GET", REPO + "/check-runs/{check_run_id}"): CHECKS_READ,
    ("GET", REPO + "/check-runs/{check_run_id}/annotations"): CHECKS_READ,
    ("GET", REPO + "/commits/{ref:path}/check-runs"): CHECKS_READ,
    # Deployments.
    ("POST", REPO + "/deployments"): DEPLOYMENTS_WRITE,
    ("GET", REPO + "/deployments"): DEPLOYMENTS_READ,
    ("GET", REPO + "/deployments/{deployment_id}"): DEPLOYMENTS_READ,
    ("POST", REPO + "/deployments/{deployment_id}/statuses"): DEPLOYMENTS_WRITE,
    ("GET", REPO + "/deployments/{deployment_id}/statuses"): DEPLOYMENTS_READ,
    ("GET", REPO + "/deployments/{deployment_id}/statuses/{status_id}"): DEPLOYMENTS_READ,
    # Administration: webhooks and branch protection.
    ("GET", REPO + "/hooks"): HOOKS_READ,
    ("POST", REPO + "/hooks"): HOOKS_WRITE,
    ("GET", REPO + "/hooks/{hook_id}"): HOOKS_READ,
    ("DELETE", REPO + "/hooks/{hook_id}"): HOOKS_WRITE,
    ("GET", REPO + "/hooks/{hook_id}/deliveries"): HOOKS_READ,
    ("GET", REPO + "/hooks/{hook_id}/deliveries/{delivery_id}"): HOOKS_READ,
    ("POST", REPO + "/hooks/{hook_id}/deliveries/{delivery_id}/attempts"): HOOKS_WRITE,
    ("GET", REPO + "/branches/{branch:path}/protection"): ADMINISTRATION_READ,
    ("GET", REPO + "/branches/{branch:path}/protection/required_signatures"): ADMINISTRATION_READ,
    # Organisation resources.
    ("GET", "/orgs/{org}"): NOTHING,
    ("GET", "/orgs/{org}/teams/{team_slug}"): MEMBERS_READ,
    ("GET", "/orgs/{org}/teams/{team_slug}/members"): MEMBERS_READ,
    ("GET", "/orgs/{org}/teams/{team_slug}/members/{username}"): MEMBERS_READ,
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}"): MEMBERS_READ,
    # Open to any token; `/user` itself refuses installations.
    ("GET", "/user"): NOTHING,
    ("GET", "/users/{username}"): NOTHING,
    ("GET", "/rate_limit"): NOTHING,
    # JSON web token routes: the App itself, never an installation.
    ("GET", "/app"): NOTHING,
    ("GET", "/app/installations"): NOTHING,
    ("GET", "/app/installations/{installation_id}"): NOTHING,
    ("POST", "/app/installations/{installation_id}/access_tokens"): NOTHING,
    ("GET", REPO + "/installation"): NOTHING,
    # An installation token lists the repositories it may act on (metadata is implied).
    ("GET", "/installation/repositories"): METADATA,
}

# Which permission lets an App subscribe to (and receive) an event.
# https://docs.github.com/en/webhooks/webhook-events-and-payloads
EVENT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "check_run": ("checks",),
    "check_suite": ("checks",),
    "deployment": ("deployments",),
    "deployment_status": ("deployments",),
    "issue_comment": ("issues", "pull_requests"),
    "issues": ("issues",),
    "label": ("metadata",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "push": ("contents",),
    "repository_dispatch": ("contents",),
    "status": ("statuses",),
}


def has_level(granted: str | None, needed: str) -> bool:
    return granted in LEVELS and LEVELS.index(granted) >= LEVELS.index(needed)


def unmet(granted: Mapping[str, str], needs: Needs) -> bool:
    """True when some group of `needs` has no permission that `granted` covers."""
    return any(not any(has_level(granted.get(n), lv) for n, lv in group) for group in needs)


def accepted_header(needs: Needs) -> str:
    """`X-Accepted-GitHub-Permissions`: the sets that would do, separated by `;`."""
    return "; ".join(",".join(f"{n}={lv}" for n, lv in combo) for combo in product(*needs))


def refuse(needs: Needs) -> ApiError:
    headers = {"X-Accepted-GitHub-Permissions": accepted_header(needs)} if needs else {}
    return ApiError(403, NOT_ACCESSIBLE, headers=headers, docs=PERMISSIONS_DOCS)


def require(granted: Mapping[str, str], needs: Needs) -> None:
    if unmet(granted, needs):
        raise refuse(needs)


def needs_for(method: str, template: str) -> Needs | None:
    """The permissions a route needs, or None for a route the table lacks (refused)."""
    return ROUTES.get((method.upper(), template))


def may_receive(granted: Mapping[str, str], event: str) -> bool:
    options = EVENT_PERMISSIONS.get(event)
    return options is not None and any(has_level(granted.get(name), "read") for name in options)
