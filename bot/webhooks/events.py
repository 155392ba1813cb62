"""Domain events: what a webhook delivery means to promobot, independent of who sent it.

The workflows consume these, never raw payloads. Each event names a serialisation key:
events with the same key are processed one at a time, in arrival order; events with
different keys run in parallel.

Keys:
- `ModelVersionCreated`: `model:<model>@<environment>`, or `model:<model>` when the
  trigger does not name an environment (MLflow, Event Grid).
- pull-request events (`PullRequestChanged`, `ReviewSubmitted`, `CommentCreated`, and a
  `CheckRunCompleted` that names exactly one pull request): `pr:<owner/repo>#<number>`.
- `StatusChanged` and other `CheckRunCompleted`: `commit:<owner/repo>@<sha>` (GitHub's
  payload names no pull request; the merge's head-SHA guard keeps this safe).
- `Pushed`: `ref:<owner/repo>@<ref>`. `Tick`: `tick`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.domain.manifest import RegistryKind


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _GitHubEvent(_Event):
    repo: str = Field(description="Repository as `owner/name`.")
    sender: str | None = Field(default=None, description="Login of who caused the event.")
    installation_id: int | None = Field(
        default=None, description="GitHub App installation that received the delivery."
    )


class ModelVersionCreated(_Event):
    """A new model version was registered: the trigger of the propose workflow."""

    kind: Literal["model_version_created"] = Field(
        default="model_version_created", description="Event discriminator."
    )
    registry: RegistryKind = Field(description="Registry that holds the version.")
    model: str = Field(min_length=1, description="Registered model name.")
    version: str = Field(min_length=1, description="Version, as a string.")
    environment: str | None = Field(
        default=None, description="Target environment, when the trigger names one."
    )
    run_id: str | None = Field(default=None, description="Run that produced the version.")
    source: str | None = Field(default=None, description="Artifact location of the version.")
    repo: str | None = Field(
        default=None, description="Repository that asked for the proposal (repository_dispatch)."
    )

    @property
    def serialisation_key(self) -> str:
        """`model:<model>@<environment>`, or `model:<model>` without an environment."""
        if self.environment is None:
            return f"model:{self.model}"
        return f"model:{self.model}@{self.environment}"


class PullRequestChanged(_GitHubEvent):
    """A pull request was opened, pushed to, labelled, closed, ..."""

    kind: Literal["pull_request_changed"] = Field(
        default="pull_request_changed", description="Event discriminator."
    )
    number: int = Field(description="Pull request number.")
    action: str = Field(description="GitHub's action: opened, synchronize, labeled, closed, ...")
    head_sha: str = Field(description="Head commit of the pull request.")
    head_ref: str = Field(description="Head branch name.")
    base_ref: str = Field(description="Base branch name.")
    labels: tuple[str, ...] = Field(default=(), description="Labels after the change.")
    label: str | None = Field(
        default=None, description="The label added or removed (labeled, unlabeled)."
    )
    merged: bool = Field(default=False, description="Whether the pull request is merged.")
    merge_commit_sha: str | None = Field(
        default=None, description="Merge commit, once merged (closed with merged true)."
    )
    draft: bool = Field(default=False, description="Whether the pull request is a draft.")

    @property
    def serialisation_key(self) -> str:
        """`pr:<repo>#<number>`."""
        return pull_request_key(self.repo, self.number)


class ReviewSubmitted(_GitHubEvent):
    """A review was submitted (or dismissed) on a pull request."""

    kind: Literal["review_submitted"] = Field(
        default="review_submitted", description="Event discriminator."
    )
    number: int = Field(description="Pull request number.")
    action: str = Field(description="GitHub's action: submitted, dismissed, edited.")
    state: str = Field(description="Review state: approved, changes_requested, commented, ...")
    user: str = Field(description="Login of the reviewer.")
    commit_id: str = Field(description="Commit the review was made on.")
    review_id: int = Field(description="Review id.")
    head_sha: str = Field(description="Head commit of the pull request at delivery time.")

    @property
    def serialisation_key(self) -> str:
        """`pr:<repo>#<number>`."""
        return pull_request_key(self.repo, self.number)


class CommentCreated(_GitHubEvent):
    """A comment on an issue or pull request: where `/promobot` commands come from."""

    kind: Literal["comment_created"] = Field(
        default="comment_created", description="Event discriminator."
    )
    number: int = Field(description="Issue or pull request number.")
    user: str = Field(description="Login of the commenter.")
    body: str = Field(description="Comment text.")
    comment_id: int = Field(description="Comment id.")
    is_pull_request: bool = Field(description="Whether the comment is on a pull request.")

    @property
    def serialisation_key(self) -> str:
        """`pr:<repo>#<number>`."""
        return pull_request_key(self.repo, self.number)


class StatusChanged(_GitHubEvent):
    """A commit status was set."""

    kind: Literal["status_changed"] = Field(
        default="status_changed", description="Event discriminator."
    )
    sha: str = Field(description="Commit the status belongs to.")
    context: str = Field(description="Status context, e.g. `ci/tests`.")
    state: str = Field(description="pending, success, failure or error.")
    branches: tuple[str, ...] = Field(default=(), description="Branches whose head is `sha`.")

    @property
    def serialisation_key(self) -> str:
        """`commit:<repo>@<sha>`."""
        return f"commit:{self.repo}@{self.sha}"


class CheckRunCompleted(_GitHubEvent):
    """A check run completed."""

    kind: Literal["check_run_completed"] = Field(
        default="check_run_completed", description="Event discriminator."
    )
    head_sha: str = Field(description="Commit the check ran on.")
    name: str = Field(description="Check run name.")
    conclusion: str | None = Field(description="success, failure, neutral, ... (null if none).")
    pull_numbers: tuple[int, ...] = Field(
        default=(), description="Pull requests of this repository the check belongs to."
    )

    @property
    def serialisation_key(self) -> str:
        """`pr:<repo>#<n>` for exactly one pull request, else `commit:<repo>@<sha>`."""
        if len(self.pull_numbers) == 1:
            return pull_request_key(self.repo, self.pull_numbers[0])
        return f"commit:{self.repo}@{self.head_sha}"


class Pushed(_GitHubEvent):
    """Commits were pushed to a branch or tag (a merge, a revert, ...)."""

    kind: Literal["pushed"] = Field(default="pushed", description="Event discriminator.")
    ref: str = Field(description="Full ref, e.g. `refs/heads/main`.")
    before: str = Field(description="Ref's commit before the push (zeros when created).")
    after: str = Field(description="Ref's commit after the push (zeros when deleted).")

    @property
    def serialisation_key(self) -> str:
        """`ref:<repo>@<ref>`."""
        return f"ref:{self.repo}@{self.ref}"


class Tick(_Event):
    """A periodic clock tick: deploy windows, reconciliation of missed versions."""

    kind: Literal["tick"] = Field(default="tick", description="Event discriminator.")
    now: dt.datetime = Field(description="When the tick was due (UTC).")

    @property
    def serialisation_key(self) -> str:
        """`tick`: ticks never overlap."""
        return "tick"


DomainEvent = Annotated[
    ModelVersionCreated
    | PullRequestChanged
    | ReviewSubmitted
    | CommentCreated
    | StatusChanged
    | CheckRunCompleted
    | Pushed
    | Tick,
    Field(discriminator="kind"),
]
"""Every event the workflows consume; match on the type (or `kind`)."""

_ADAPTER: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)


def pull_request_key(repo: str, number: int) -> str:
    """The serialisation key of everything that happens on one pull request."""
    return f"pr:{repo}#{number}"


def event_to_payload(event: DomainEvent) -> dict[str, Any]:
    """The event as JSON-ready data, as the store keeps it."""
    return event.model_dump(mode="json")


def event_from_payload(payload: dict[str, Any]) -> DomainEvent:
    """The event back from `event_to_payload`'s data (`pydantic.ValidationError` if bad)."""
    return _ADAPTER.validate_python(payload)


OWN_WRITE_ACTIONS = frozenset({"labeled", "unlabeled"})


def is_own_write(event: DomainEvent, bot_login: str) -> bool:
    """An event the bot caused with its own write: a status, check run, comment or label.

    Reacting to these would only repeat the work that wrote them (a failed status
    would set itself again, forever); the bot's other writes (a pushed commit, an
    opened pull request) still need the gate.
    """
    if not isinstance(event, _GitHubEvent) or event.sender is None:
        return False
    if event.sender.lower() != bot_login.lower():
        return False
    match event:
        case StatusChanged() | CheckRunCompleted() | CommentCreated():
            return True
        case PullRequestChanged():
            return event.action in OWN_WRITE_ACTIONS
        case _:
            return False
