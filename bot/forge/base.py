"""The `Forge` protocol: what workflows ask of GitHub, one coarse call per workflow step.

Value types are frozen pydantic models; no PyGithub type crosses this line, so
workflows can be unit-tested with an in-memory forge.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ForgeError

PROMOTION_BRANCH_PREFIX = "promobot/"
REVERT_BRANCH_PREFIX = "promobot/revert/"


def promotion_branch(environment: str, model: str) -> str:
    """The one branch of the promotion pull request of (model, environment)."""
    return f"{PROMOTION_BRANCH_PREFIX}{environment}/{model}"


def revert_branch(pull_number: int) -> str:
    """The branch of the pull request that reverts merged promotion `pull_number`."""
    return f"{REVERT_BRANCH_PREFIX}{pull_number}"


def promotion_of(head_ref: str) -> tuple[str, str] | None:
    """(environment, model) of a promotion branch; None for revert and other branches.

    `revert` is therefore not usable as an environment name.
    """
    if not head_ref.startswith(PROMOTION_BRANCH_PREFIX) or head_ref.startswith(
        REVERT_BRANCH_PREFIX
    ):
        return None
    parts = head_ref[len(PROMOTION_BRANCH_PREFIX) :].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


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


class CommitInfo(_Value):
    """One commit of the default branch."""

    sha: str = Field(description="Commit SHA.")
    message: str = Field(description="Full message.")
    author: str = Field(description="Login when GitHub knows it, else the git author name.")
    committed_at: dt.datetime | None = Field(description="Committer date (UTC).")
    parents: tuple[str, ...] = Field(description="Parent SHAs.")


class ForgeHumanCommitError(ForgeError):
    """A person committed on a bot branch; the bot will not force-push their work away."""


class ForgeHeadMovedError(ForgeError):
    """The pull request's head is no longer the SHA the decision was made for (HTTP 409)."""


class ForgeNotMergeableError(ForgeError):
    """GitHub refused the merge: conflict, closed, draft or protection rules (HTTP 405)."""


class ForgeRevertConflictError(ForgeError):
    """A file of the merged promotion changed again since; a revert would drop that change."""


class ForgeNothingToChangeError(ForgeError):
    """The default branch already holds exactly this manifest."""


class Forge(Protocol):
    """GitHub as the workflows see it. Methods are safe to repeat after an interruption."""

    @property
    def bot_login(self) -> str:
        """Login of the bot: its comments, reviews and commits are recognised by it."""
        ...

    def default_branch(self) -> BranchHead:
        """The default branch and its head."""
        ...

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        """Text of `path` at `ref` (default branch when None), or None when absent."""
        ...

    def list_files(self, path: str, ref: str | None = None) -> list[str]:
        """Paths of the files under the directory `path` (recursively), sorted; [] if absent."""
        ...

    def open_or_update_promotion(
        self,
        *,
        model: str,
        environment: str,
        manifest_path: str,
        manifest_text: str,
        title: str,
        body: str,
        labels: Sequence[str] = (),
        reviewers: Sequence[str] = (),
        team_reviewers: Sequence[str] = (),
        draft: bool = False,
    ) -> PromotionPR:
        """Open the promotion pull request, or update the open one with a new commit.

        `body` is the bot's text; it is placed between the promobot markers and
        replaces only that part of an existing body.
        """
        ...

    def set_draft(self, number: int, draft: bool) -> PullRequestInfo:
        """Convert to draft or mark ready for review (GraphQL; REST cannot)."""
        ...

    def close_pull_request(self, number: int, comment: str | None = None) -> PullRequestInfo:
        """Close without merging, after an optional comment."""
        ...

    def get_pull_request(self, number: int, *, with_files: bool = True) -> PullRequestInfo:
        """The pull request, with the paths it changes unless `with_files` is False."""
        ...

    def list_promotion_pull_requests(self) -> list[PullRequestInfo]:
        """Open pull requests whose head branch starts with `promobot/`."""
        ...

    def set_commit_status(
        self,
        sha: str,
        state: CommitState,
        description: str,
        *,
        target_url: str | None = None,
        context: str | None = None,
    ) -> None:
        """Set a commit status (context: the settings' `status_context` when None)."""
        ...

    def set_check_run(
        self,
        sha: str,
        name: str,
        *,
        conclusion: CheckConclusion | None,
        title: str,
        summary: str,
        details_url: str | None = None,
        check_run_id: int | None = None,
    ) -> int:
        """Create (or update `check_run_id`) a check run; None conclusion means in progress."""
        ...

    def get_checks(self, sha: str) -> ChecksSnapshot:
        """Combined status and check runs of `sha`."""
        ...

    def upsert_comment(self, number: int, marker: str, body: str) -> Comment:
        """The bot's one comment carrying `marker`: edited in place, created if missing."""
        ...

    def create_comment(self, number: int, body: str) -> Comment:
        """A new comment."""
        ...

    def list_comments(self, number: int) -> list[Comment]:
        """All comments, oldest first."""
        ...

    def list_reviews(self, number: int) -> list[Review]:
        """All reviews, oldest first."""
        ...

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        """True when `login` is an active member of the team."""
        ...

    def collaborator_permission(self, login: str) -> Permission:
        """The user's permission on the repository."""
        ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """Add labels (existing ones stay)."""
        ...

    def remove_label(self, number: int, label: str) -> None:
        """Remove a label; absent labels are fine."""
        ...

    def merge(
        self,
        number: int,
        *,
        expected_head_sha: str,
        method: MergeMethod = MergeMethod.SQUASH,
        title: str | None = None,
        message: str | None = None,
    ) -> MergeResult:
        """Merge only if the head is still `expected_head_sha`.

        Raises `ForgeHeadMovedError` (409) or `ForgeNotMergeableError` (405).
        """
        ...

    def create_deployment(
        self,
        ref: str,
        environment: str,
        *,
        payload: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> DeploymentInfo:
        """Record a deployment of `ref` to `environment` (no auto-merge, no required contexts)."""
        ...

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Add a status to a deployment."""
        ...

    def open_revert(
        self,
        number: int,
        *,
        labels: Sequence[str] = ("rollback",),
        body: str = "",
        merge: bool = False,
    ) -> RevertResult:
        """A pull request restoring the files of merged promotion `number`; merged on request."""
        ...

    def commits_since(self, since_sha: str | None, path: str | None = None) -> list[CommitInfo]:
        """Default-branch commits after `since_sha` (all if None) touching `path`, oldest first."""
        ...
