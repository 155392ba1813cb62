"""The seed file's shape: who and what the sandbox starts with, and how strict GitHub's
timing, limits and rules are. Every model mirrors the GitHub setting it stands for; the
field descriptions name the documentation page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PermissionName = Literal["read", "triage", "write", "maintain", "admin"]
AccessLevel = Literal["read", "write", "admin"]
# The plans GitHub sells; drafts in private repositories need `team` or `enterprise`.
# https://docs.github.com/en/get-started/learning-about-github/githubs-plans
Plan = Literal["free", "pro", "team", "enterprise"]
# The names of GitHub App permissions, as `GET /app` answers them (the `app-permissions`
# schema of GitHub's REST description).
# https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
APP_PERMISSION_NAMES = frozenset(
    {
        "actions",
        "administration",
        "checks",
        "contents",
        "deployments",
        "environments",
        "issues",
        "metadata",
        "packages",
        "pages",
        "pull_requests",
        "repository_hooks",
        "repository_projects",
        "secret_scanning_alerts",
        "secrets",
        "security_events",
        "single_file",
        "statuses",
        "vulnerability_alerts",
        "workflows",
        "members",
        "organization_administration",
        "organization_hooks",
        "organization_plan",
        "organization_projects",
        "organization_secrets",
    }
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SeedUser(_Model):
    login: str = Field(description="GitHub login, e.g. `alice`.")
    token: str | None = Field(
        default=None, description="API token that authenticates as this user."
    )
    site_admin: bool = Field(default=False, description="Site administrators may do anything.")
    name: str | None = Field(
        default=None, description="Display name, used for commits the sandbox makes."
    )
    email: str | None = Field(
        default=None, description="E-mail; commits with it are attributed to the user."
    )
    plan: Plan = Field(
        default="free",
        description="The account's plan (`free` or `pro` for people); decides whether "
        "drafts are allowed in its private repositories.",
    )
    rate_limit: int | None = Field(
        default=None,
        gt=0,
        description="Requests per rate-limit window for this user's tokens; "
        "`rate_limits.users` when absent.",
    )


class SeedOrg(_Model):
    login: str = Field(description="Organisation login, e.g. `acme`.")
    admins: list[str] = Field(
        default_factory=list, description="Logins with admin rights on every repo."
    )
    members: list[str] = Field(
        default_factory=list, description="Logins of the organisation's members."
    )
    default_permission: PermissionName = Field(
        default="read",
        description="Base permission members have on the organisation's repositories.",
    )
    plan: Plan = Field(
        default="free",
        description="The organisation's plan (`free`, `team` or `enterprise`); drafts in "
        "private repositories need `team` or `enterprise`.",
    )


class SeedTeam(_Model):
    org: str = Field(description="Login of the organisation the team belongs to.")
    slug: str = Field(description="Team slug, as used in `/orgs/{org}/teams/{slug}`.")
    name: str | None = Field(default=None, description="Display name (defaults to the slug).")
    members: list[str] = Field(default_factory=list, description="Logins with the `member` role.")
    maintainers: list[str] = Field(
        default_factory=list, description="Logins with the `maintainer` role."
    )
    repositories: dict[str, PermissionName] = Field(
        default_factory=dict, description="Repository full name → permission the team grants."
    )


class SeedHook(_Model):
    url: str = Field(description="Where deliveries are POSTed.")
    secret: str | None = Field(default=None, description="Key of the X-Hub-Signature-256 HMAC.")
    events: list[str] = Field(
        default_factory=lambda: ["push"], description="Event names, or `*` for all."
    )
    content_type: Literal["json", "form"] = Field(default="json", description="Body encoding.")
    active: bool = Field(default=True, description="Inactive hooks receive nothing.")


class SeedRequiredCheck(_Model):
    context: str = Field(description="Name of the status context or check run.")
    app_id: int | None = Field(
        default=None,
        description="Only this GitHub App's check runs and statuses count; any source when absent.",
    )


class SeedRequiredStatusChecks(_Model):
    strict: bool = Field(
        default=False, description="Require branches to be up to date before merging."
    )
    contexts: list[str] = Field(
        default_factory=list, description="Required contexts, from any source."
    )
    checks: list[SeedRequiredCheck] = Field(
        default_factory=list, description="Required checks, optionally pinned to an App."
    )


class SeedRequiredReviews(_Model):
    required_approving_review_count: int = Field(
        default=1, ge=0, le=6, description="Approvals needed from people with write access."
    )
    dismiss_stale_reviews: bool = Field(
        default=False, description="A push dismisses the approvals given before it."
    )
    require_last_push_approval: bool = Field(
        default=False,
        description="The most recent push must be approved by someone other than its pusher.",
    )


class SeedBranchProtection(_Model):
    """Classic branch protection, as `PUT /repos/{o}/{r}/branches/{b}/protection` takes it.
    https://docs.github.com/en/rest/branches/branch-protection#update-branch-protection"""

    required_status_checks: SeedRequiredStatusChecks | None = Field(
        default=None, description="Checks that must pass before merging."
    )
    required_pull_request_reviews: SeedRequiredReviews | None = Field(
        default=None, description="Approvals before merging; pushes must go through pulls."
    )
    required_signatures: bool = Field(
        default=False, description="Commits reaching the branch must be verified."
    )
    enforce_admins: bool = Field(
        default=False, description="Administrators are held to the rules too."
    )
    allow_force_pushes: bool = Field(default=False, description="Permit non-fast-forward pushes.")
    allow_deletions: bool = Field(default=False, description="Permit deleting the branch.")


class SeedRefCondition(_Model):
    include: list[str] = Field(
        default_factory=list,
        description="Ref patterns (`refs/heads/promobot/**`, `~DEFAULT_BRANCH`, `~ALL`).",
    )
    exclude: list[str] = Field(default_factory=list, description="Ref patterns left out.")


class SeedRulesetConditions(_Model):
    ref_name: SeedRefCondition = Field(description="Which branches the ruleset applies to.")


class SeedStatusCheckRef(_Model):
    context: str = Field(description="Name of the status context or check run.")
    integration_id: int | None = Field(
        default=None, description="Only this GitHub App's checks count."
    )


class SeedPullRequestParameters(_Model):
    required_approving_review_count: int = Field(
        default=1, ge=0, le=10, description="Approvals needed from people with write access."
    )
    dismiss_stale_reviews_on_push: bool = Field(
        default=False, description="A push dismisses the approvals given before it."
    )
    require_last_push_approval: bool = Field(
        default=False,
        description="The most recent push must be approved by someone other than its pusher.",
    )


class SeedStatusChecksParameters(_Model):
    strict_required_status_checks_policy: bool = Field(
        default=False, description="Require branches to be up to date before merging."
    )
    required_status_checks: list[SeedStatusCheckRef] = Field(
        default_factory=list, description="The checks that must pass."
    )


class SeedPullRequestRule(_Model):
    type: Literal["pull_request"] = Field(description="Changes must go through a pull request.")
    parameters: SeedPullRequestParameters = Field(
        default_factory=SeedPullRequestParameters, description="Review requirements."
    )


class SeedStatusChecksRule(_Model):
    type: Literal["required_status_checks"] = Field(description="Checks must pass.")
    parameters: SeedStatusChecksParameters = Field(description="The checks.")


class SeedSimpleRule(_Model):
    type: Literal["required_signatures", "non_fast_forward", "deletion"] = Field(
        description="A rule without parameters."
    )


SeedRule = Annotated[
    SeedPullRequestRule | SeedStatusChecksRule | SeedSimpleRule, Field(discriminator="type")
]


class SeedRuleset(_Model):
    """A repository ruleset, as `POST /repos/{o}/{r}/rulesets` takes it.
    https://docs.github.com/en/rest/repos/rules#create-a-repository-ruleset"""

    name: str = Field(description="Ruleset name, shown in refusals.")
    target: Literal["branch"] = Field(default="branch", description="Rulesets on branches.")
    enforcement: Literal["active", "evaluate", "disabled"] = Field(
        default="active", description="Only `active` rulesets refuse anything."
    )
    conditions: SeedRulesetConditions = Field(description="The branches it covers.")
    rules: list[SeedRule] = Field(description="The rules.")


class SeedRepo(_Model):
    full_name: str = Field(
        description="`owner/name`; the owner must be a seeded user or organisation."
    )
    default_branch: str = Field(default="main", description="Branch the initial commit goes to.")
    private: bool = Field(
        default=False, description="Private repositories are hidden from non-members."
    )
    description: str | None = Field(default=None, description="Repository description.")
    content: Path | None = Field(
        default=None,
        description="Folder whose files form the initial commit (relative to the seed file).",
    )
    collaborators: dict[str, PermissionName] = Field(
        default_factory=dict, description="Login → permission on this repository."
    )
    webhooks: list[SeedHook] = Field(default_factory=list, description="Repository webhooks.")
    branch_protection: dict[str, SeedBranchProtection] = Field(
        default_factory=dict, description="Branch name → classic branch protection."
    )
    rulesets: list[SeedRuleset] = Field(default_factory=list, description="Repository rulesets.")


class SeedInstallation(_Model):
    id: int = Field(description="Installation id, used in `/app/installations/{id}/access_tokens`.")
    account: str = Field(description="Login of the user or organisation the app is installed on.")
    repositories: list[str] | None = Field(
        default=None, description="Repository names the installation may use; all when absent."
    )


class SeedAppWebhook(_Model):
    url: str = Field(description="Where the App's deliveries are POSTed.")
    secret: str | None = Field(default=None, description="Key of the X-Hub-Signature-256 HMAC.")
    events: list[str] = Field(
        default_factory=list,
        description="Subscribed events; each needs its permission. `repository_dispatch` "
        "needs no subscription.",
    )
    active: bool = Field(default=True, description="Inactive hooks receive nothing.")


def _metadata_only() -> dict[str, AccessLevel]:
    return {"metadata": "read"}


class SeedApp(_Model):
    id: int = Field(description="App id: the JWT's `iss` claim.")
    slug: str = Field(description="App slug; installation tokens act as `<slug>[bot]`.")
    name: str | None = Field(default=None, description="Display name (defaults to the slug).")
    owner: str = Field(description="Login of the user or organisation that owns the app.")
    private_key: Path | None = Field(
        default=None,
        description="PEM file of the app's private key (relative to the seed file); when "
        "absent a key is generated and written to `DIR/apps/<slug>.pem`.",
    )
    installations: list[SeedInstallation] = Field(
        default_factory=list, description="Where it is installed."
    )
    token_ttl_seconds: int | None = Field(
        default=None,
        gt=0,
        description="Lifetime of installation tokens; GitHub's hour when absent.",
    )
    permissions: dict[str, AccessLevel] = Field(
        default_factory=_metadata_only,
        description="GitHub's permission names and levels; installation tokens get exactly "
        "these (metadata: read only when absent).",
    )
    webhook: SeedAppWebhook | None = Field(
        default=None, description="The App's one webhook, for every installed repository."
    )
    rate_limit: int | None = Field(
        default=None,
        gt=0,
        description="Requests per window for each installation; `rate_limits.installations` "
        "when absent.",
    )

    @field_validator("permissions")
    @classmethod
    def _known_permissions(cls, value: dict[str, AccessLevel]) -> dict[str, AccessLevel]:
        unknown = sorted(set(value) - APP_PERMISSION_NAMES)
        if unknown:
            raise ValueError(f"unknown GitHub App permission(s): {', '.join(unknown)}")
        return value


class SeedTiming(_Model):
    mergeability_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How long GitHub's background job takes to compute `mergeable` after a "
        "pull request is read, created or edited with a new head or base.",
    )


class SeedRateLimits(_Model):
    users: int = Field(default=5000, gt=0, description="Requests per window per user.")
    installations: int = Field(
        default=5000, gt=0, description="Requests per window per App installation."
    )
    window_seconds: int = Field(default=3600, gt=0, description="Length of a window.")
    exceeded_status: Literal[403, 429] = Field(
        default=403, description="The status of a refused request once the budget is spent."
    )


class Seed(_Model):
    users: list[SeedUser] = Field(default_factory=list, description="People and their tokens.")
    orgs: list[SeedOrg] = Field(default_factory=list, description="Organisations.")
    teams: list[SeedTeam] = Field(default_factory=list, description="Teams of organisations.")
    repositories: list[SeedRepo] = Field(default_factory=list, description="Repositories.")
    apps: list[SeedApp] = Field(
        default_factory=list, description="GitHub Apps and their installations."
    )
    timing: SeedTiming = Field(
        default_factory=SeedTiming, description="How long GitHub's background work takes."
    )
    rate_limits: SeedRateLimits = Field(
        default_factory=SeedRateLimits, description="Primary rate limits per token owner."
    )
