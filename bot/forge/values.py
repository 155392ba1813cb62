"""The forge's value types: frozen pydantic models and enums, free of PyGithub.

Workflows import them through `bot.forge.base`.
"""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel, ConfigDict, Field


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PullState(enum.StrEnum):
    """State of a pull request as GitHub reports it."""

    OPEN = "open"
    CLOSED = "closed"


class CommitState(enum.StrEnum):
    """State of a commit status (and of the combined status)."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


class CheckConclusion(enum.StrEnum):
    """Conclusion of a completed check run."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    ACTION_REQUIRED = "action_required"
    STALE = "stale"


class DeploymentState(enum.StrEnum):
    """State of a GitHub deployment status."""

    QUEUED = "queued"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    INACTIVE = "inactive"


class Permission(enum.StrEnum):
    """A collaborator's permission on the repository, strongest first."""

    ADMIN = "admin"
    MAINTAIN = "maintain"
    WRITE = "write"
    TRIAGE = "triage"
    READ = "read"
    NONE = "none"

    @property
    def can_write(self) -> bool:
        """True for write, maintain and admin."""
        return self in (Permission.ADMIN, Permission.MAINTAIN, Permission.WRITE)


class MergeMethod(enum.StrEnum):
    """How a pull request lands on the base branch."""

    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


class PromotionOutcome(enum.StrEnum):
    """What `open_or_update_promotion` did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    BLOCKED_BY_HUMAN_COMMIT = "blocked_by_human_commit"


class BranchHead(_Value):
    """A branch and the commit it points at."""

    name: str = Field(description="Branch name, without `refs/heads/`.")
    sha: str = Field(description="Commit SHA at the branch's head.")


class PullRequestInfo(_Value):
    """The parts of a pull request the workflows read."""

    number: int = Field(description="Pull request number.")
    url: str = Field(description="Web URL of the pull request.")
    title: str = Field(description="Title.")
    body: str = Field(description="Body (Markdown), empty when none.")
    state: PullState = Field(description="open or closed.")
    draft: bool = Field(description="True while a draft.")
    merged: bool = Field(description="True once merged.")
    merge_commit_sha: str | None = Field(description="Commit the merge created on the base.")
    head_ref: str = Field(description="Head branch name.")
    head_sha: str = Field(description="Head commit SHA: approvals and checks count for it only.")
    base_ref: str = Field(description="Base branch name.")
    author: str = Field(description="Login of the author.")
    labels: tuple[str, ...] = Field(description="Label names.")
    mergeable: bool | None = Field(description="GitHub's mergeability; None while computing.")
    requested_reviewers: tuple[str, ...] = Field(description="Logins asked for a review.")
    requested_teams: tuple[str, ...] = Field(description="Team slugs asked for a review.")
    files: tuple[str, ...] | None = Field(
        default=None, description="Paths the pull request changes; None when not fetched."
    )


class PromotionPR(_Value):
    """The promotion pull request after `open_or_update_promotion`."""

    outcome: PromotionOutcome = Field(description="Created, updated, unchanged or blocked.")
    pull_request: PullRequestInfo = Field(description="The pull request as it stands now.")
    branch: str = Field(description="Head branch `promobot/<environment>/<model>`.")
    commit_sha: str = Field(description="Head commit of the branch.")
    detail: str = Field(description="One line for logs: what happened and why.")


class RevertResult(_Value):
    """The revert pull request of a merged promotion."""

    pull_request: PullRequestInfo = Field(description="The revert pull request.")
    created: bool = Field(description="False when an earlier run had opened it already.")
    merge_sha: str | None = Field(description="Commit on the base branch when merged, else None.")


class Review(_Value):
    """One submitted review."""

    id: int = Field(description="Review id.")
    user: str = Field(description="Login of the reviewer.")
    state: str = Field(description="APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING.")
    commit_id: str | None = Field(description="Head SHA the review was given on.")
    submitted_at: dt.datetime | None = Field(description="When it was submitted (UTC).")


class Comment(_Value):
    """One issue comment on a pull request."""

    id: int = Field(description="Comment id.")
    user: str = Field(description="Login of the author.")
    body: str = Field(description="Markdown body.")
    created_at: dt.datetime = Field(description="Creation time (UTC).")
    updated_at: dt.datetime = Field(description="Last edit (UTC).")


class StatusInfo(_Value):
    """The latest commit status of one context."""

    context: str = Field(description="Status context, e.g. `promobot/policy`.")
    state: CommitState = Field(description="pending, success, failure or error.")
    description: str | None = Field(description="Short description.")
    target_url: str | None = Field(description="Link to details.")


class CheckRunInfo(_Value):
    """One check run on a commit."""

    id: int = Field(description="Check run id.")
    name: str = Field(description="Check name.")
    status: str = Field(description="queued, in_progress or completed.")
    conclusion: str | None = Field(description="Conclusion once completed.")


class ChecksSnapshot(_Value):
    """Commit statuses and check runs of one SHA, as required-check rules read them."""

    sha: str = Field(description="The commit.")
    combined_state: CommitState = Field(description="GitHub's combined status state.")
    statuses: tuple[StatusInfo, ...] = Field(description="Latest status per context.")
    check_runs: tuple[CheckRunInfo, ...] = Field(description="Latest check run per name.")

    def is_passing(self, name: str) -> bool | None:
        """True/False for a finished status or check named `name`; None while pending or absent."""
        for status in self.statuses:
            if status.context == name:
                if status.state is CommitState.PENDING:
                    return None
                return status.state is CommitState.SUCCESS
        for run in self.check_runs:
            if run.name == name:
                if run.status != "completed":
                    return None
                return run.conclusion in ("success", "neutral", "skipped")
        return None


class MergeResult(_Value):
    """A merged pull request."""

    sha: str = Field(description="Commit the merge created on the base branch.")
    message: str = Field(description="GitHub's message.")


class DeploymentInfo(_Value):
    """A GitHub deployment."""

    id: int = Field(description="Deployment id.")
    ref: str = Field(description="Ref that was deployed.")
    sha: str = Field(description="Commit that was deployed.")
    environment: str = Field(description="Environment name.")
