"""The forge's value types: frozen pydantic models and enums, free of PyGithub.

Workflows import them through `bot.forge.base`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


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


class MergeBlock(enum.StrEnum):
    """Why GitHub refuses a merge until something changes (its 405 answers).

    https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request
    """

    REVIEWS = "reviews"
    CHECKS = "checks"
    BEHIND = "behind"
    SIGNATURES = "signatures"
    MERGE_QUEUE = "merge_queue"
    METHOD = "method"
    CONFLICT = "conflict"
    OTHER = "other"


class AnnotationLevel(enum.StrEnum):
    """Severity of a check run annotation."""

    NOTICE = "notice"
    WARNING = "warning"
    FAILURE = "failure"


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
    merged_at: dt.datetime | None = Field(default=None, description="When it was merged (UTC).")
    head_ref: str = Field(description="Head branch name.")
    head_sha: str = Field(description="Head commit SHA: approvals and checks count for it only.")
    base_ref: str = Field(description="Base branch name.")
    author: str = Field(description="Login of the author.")
    labels: tuple[str, ...] = Field(description="Label names.")
    mergeable: bool | None = Field(description="GitHub's mergeability; None while computing.")
    mergeable_state: str | None = Field(
        default=None,
        description="GitHub's `mergeable_state`: clean, blocked, behind, dirty, unstable, draft, "
        "or unknown while computing.",
    )
    requested_reviewers: tuple[str, ...] = Field(description="Logins asked for a review.")
    requested_teams: tuple[str, ...] = Field(description="Team slugs asked for a review.")
    files: tuple[str, ...] | None = Field(
        default=None, description="Paths the pull request changes; None when not fetched."
    )


class ReviewRequestProblem(_Value):
    """A review request GitHub refused; the pull request was opened or updated all the same."""

    reviewers: tuple[str, ...] = Field(description="Logins that could not be asked.")
    teams: tuple[str, ...] = Field(description="Team slugs that could not be asked.")
    message: str = Field(description="GitHub's answer.")
    hint: str = Field(description="How to fix it.")

    def describe(self) -> str:
        """One line for a comment or a log: who, GitHub's words, and the fix."""
        who = ", ".join([*self.reviewers, *(f"team {slug}" for slug in self.teams)])
        return f"could not ask {who} for a review: {self.message} ({self.hint})"


class PromotionPR(_Value):
    """The promotion pull request after `open_or_update_promotion`."""

    outcome: PromotionOutcome = Field(description="Created, updated, unchanged or blocked.")
    pull_request: PullRequestInfo = Field(description="The pull request as it stands now.")
    branch: str = Field(description="Head branch `promobot/<environment>/<model>`.")
    commit_sha: str = Field(description="Head commit of the branch.")
    detail: str = Field(description="One line for logs: what happened and why.")
    review_problems: tuple[ReviewRequestProblem, ...] = Field(
        default=(),
        description="Review requests GitHub refused (a team without access to the repository, "
        "or an App without the organization Members permission); report them.",
    )


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


class CommitInfo(_Value):
    """One commit of the default branch."""

    sha: str = Field(description="Commit SHA.")
    message: str = Field(description="Full message.")
    committed_at: dt.datetime = Field(description="When it was committed (UTC).")


class BotIdentity(_Value):
    """Who the bot is on GitHub: whose verdict counts, whose commits and comments are its own."""

    login: str = Field(description="The bot's login (`<slug>[bot]` for an App).")
    app_id: int | None = Field(description="The App's id; None for a token.")
    verdict_name: str = Field(description="Name of the policy verdict (`promobot/policy`).")


class StatusInfo(_Value):
    """The latest commit status of one context by one creator."""

    context: str = Field(description="Status context, e.g. `promobot/policy`.")
    state: CommitState = Field(description="pending, success, failure or error.")
    description: str | None = Field(description="Short description.")
    target_url: str | None = Field(description="Link to details.")
    id: int = Field(default=0, description="Status id; a later status has a higher one.")
    creator: str | None = Field(default=None, description="Login of whoever set it.")

    @property
    def passing(self) -> bool | None:
        """True/False once decided; None while pending."""
        if self.state is CommitState.PENDING:
            return None
        return self.state is CommitState.SUCCESS


class CheckRunInfo(_Value):
    """The latest check run of one name by one App on a commit."""

    id: int = Field(description="Check run id.")
    name: str = Field(description="Check name.")
    status: str = Field(description="queued, in_progress or completed.")
    conclusion: str | None = Field(description="Conclusion once completed.")
    app_id: int | None = Field(default=None, description="Id of the App that owns the run.")
    app_slug: str | None = Field(default=None, description="Slug of that App.")

    @property
    def passing(self) -> bool | None:
        """True/False once completed (neutral and skipped pass, as in branch protection)."""
        if self.status != "completed":
            return None
        return self.conclusion in ("success", "neutral", "skipped")


class ForeignVerdict(_Value):
    """A status or check run carrying the verdict's name that the bot did not set."""

    kind: str = Field(description="`status` or `check run`.")
    name: str = Field(description="Its context or name.")
    state: str = Field(description="Its state or conclusion.")
    by: str = Field(description="Who set it: a login, or an App's slug and id.")

    def describe(self) -> str:
        """`status promobot/policy (success) set by mallory`."""
        return f"{self.kind} {self.name} ({self.state}) set by {self.by}"


class ChecksSnapshot(_Value):
    """Commit statuses and check runs of one SHA, as required-check rules read them.

    Only the bot's own status or check run is its verdict: anyone with write access
    can post a status with the same context, and any App a check run with the same name.
    """

    sha: str = Field(description="The commit.")
    combined_state: CommitState = Field(description="GitHub's combined status state.")
    statuses: tuple[StatusInfo, ...] = Field(description="Latest status per context and creator.")
    check_runs: tuple[CheckRunInfo, ...] = Field(description="Latest check run per name and App.")
    bot: BotIdentity | None = Field(
        default=None, description="The bot that read it: `verdict()` and `is_passing` use it."
    )

    def is_passing(self, name: str) -> bool | None:
        """True/False for a finished status or check named `name`; None while pending or absent.

        For the verdict's name only the bot's own verdict counts (see `verdict`).
        """
        if self.bot is not None and name == self.bot.verdict_name:
            return self.verdict()
        status = _latest(s for s in self.statuses if s.context == name)
        if status is not None:
            return status.passing
        run = _latest(r for r in self.check_runs if r.name == name)
        return None if run is None else run.passing

    def verdict(self, bot: BotIdentity | None = None) -> bool | None:
        """The policy verdict the bot itself set: its App's check run, else its own status."""
        who = bot or self.bot
        if who is None:
            return None
        if who.app_id is not None:
            run = _latest(r for r in self.check_runs if _is_own_run(r, who))
            if run is not None:
                return run.passing
        status = _latest(s for s in self.statuses if _is_own_status(s, who))
        return None if status is None else status.passing

    def foreign_verdicts(self, bot: BotIdentity | None = None) -> tuple[ForeignVerdict, ...]:
        """Statuses and check runs named like the verdict that someone else set."""
        who = bot or self.bot
        if who is None:
            return ()
        found = [
            ForeignVerdict(
                kind="status", name=s.context, state=s.state.value, by=s.creator or "unknown"
            )
            for s in self.statuses
            if s.context == who.verdict_name and not _is_own_status(s, who)
        ]
        found += [
            ForeignVerdict(
                kind="check run",
                name=r.name,
                state=r.conclusion or r.status,
                by=f"app {r.app_slug or '?'} (id {r.app_id})",
            )
            for r in self.check_runs
            if r.name == who.verdict_name and not _is_own_run(r, who)
        ]
        return tuple(found)


_Versioned = TypeVar("_Versioned", StatusInfo, CheckRunInfo)


def _is_own_status(status: StatusInfo, bot: BotIdentity) -> bool:
    return status.context == bot.verdict_name and (status.creator or "").lower() == (
        bot.login.lower()
    )


def _is_own_run(run: CheckRunInfo, bot: BotIdentity) -> bool:
    return run.name == bot.verdict_name and bot.app_id is not None and run.app_id == bot.app_id


def _latest(items: Iterable[_Versioned]) -> _Versioned | None:
    return max(items, key=lambda item: item.id, default=None)


class Annotation(_Value):
    """A line range of a file the verdict points at (a check run annotation)."""

    path: str = Field(min_length=1, description="Path in the repository.")
    start_line: int = Field(ge=1, description="First line.")
    end_line: int = Field(ge=1, description="Last line (at least `start_line`).")
    level: AnnotationLevel = Field(description="notice, warning or failure.")
    message: str = Field(min_length=1, description="What is wrong there.")
    title: str | None = Field(default=None, description="A short title.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_line < self.start_line:
            raise ValueError(f"{self.path}: end_line {self.end_line} is before {self.start_line}")
        return self


class GitCredentials(_Value):
    """HTTPS credentials for `git fetch`: an installation token is renewed hourly."""

    username: str = Field(description="`x-access-token` for an App installation token.")
    password: SecretStr = Field(description="The token; never logged or written to disk.")


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
