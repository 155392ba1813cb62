"""GitHub deliveries → domain events, reading only the fields promobot uses.

Real payloads carry many more fields, and older captures lack some newer ones (for
example `custom_properties`): neither may break parsing.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from pydantic import Field, ValidationError

from bot.domain.manifest import RegistryKind
from bot.webhooks.events import (
    CheckRunCompleted,
    CommentCreated,
    DomainEvent,
    ModelVersionCreated,
    PullRequestChanged,
    Pushed,
    ReviewSubmitted,
    StatusChanged,
)
from bot.webhooks.payloads import Foreign, PayloadError, decode_json, describe_validation_error

PROPOSE_DISPATCH = "promobot-propose"
"""`repository_dispatch` event type that asks promobot to propose a model version."""

PULL_REQUEST_ACTIONS = frozenset(
    {
        "opened",
        "reopened",
        "synchronize",
        "labeled",
        "unlabeled",
        "closed",
        "ready_for_review",
        "converted_to_draft",
    }
)
REVIEW_ACTIONS = frozenset({"submitted", "dismissed", "edited"})


class _Repository(Foreign):
    full_name: str


class _User(Foreign):
    login: str


class _Installation(Foreign):
    id: int


class _Delivery(Foreign):
    repository: _Repository
    sender: _User | None = None
    installation: _Installation | None = None

    def common(self) -> dict[str, Any]:
        return {
            "repo": self.repository.full_name,
            "sender": self.sender.login if self.sender else None,
            "installation_id": self.installation.id if self.installation else None,
        }


class _Label(Foreign):
    name: str


class _Ref(Foreign):
    ref: str
    sha: str


class _PullRequest(Foreign):
    number: int
    head: _Ref
    base: _Ref
    labels: list[_Label] = Field(default_factory=list)
    merged: bool | None = None
    merge_commit_sha: str | None = None
    draft: bool | None = None


class _PullRequestDelivery(_Delivery):
    action: str
    pull_request: _PullRequest
    label: _Label | None = None


class _Review(Foreign):
    id: int
    state: str
    user: _User | None = None
    commit_id: str


class _ReviewDelivery(_Delivery):
    action: str
    review: _Review
    pull_request: _PullRequest


class _Issue(Foreign):
    number: int
    pull_request: dict[str, Any] | None = None


class _Comment(Foreign):
    id: int
    body: str | None = None
    user: _User


class _CommentDelivery(_Delivery):
    action: str
    issue: _Issue
    comment: _Comment


class _Branch(Foreign):
    name: str


class _StatusDelivery(_Delivery):
    sha: str
    context: str
    state: str
    branches: list[_Branch] = Field(default_factory=list)


class _CheckPull(Foreign):
    number: int


class _CheckRun(Foreign):
    name: str
    head_sha: str
    conclusion: str | None = None
    pull_requests: list[_CheckPull] = Field(default_factory=list)


class _CheckRunDelivery(_Delivery):
    action: str
    check_run: _CheckRun


class _PushDelivery(_Delivery):
    ref: str
    before: str
    after: str


class _ProposeRequest(Foreign):
    model: str = Field(min_length=1)
    version: str = Field(min_length=1)
    environment: str | None = None
    registry: RegistryKind = RegistryKind.MLFLOW
    run_id: str | None = None
    source: str | None = None


class _DispatchDelivery(_Delivery):
    action: str
    client_payload: dict[str, Any] | None = None


def decode_github_body(body: bytes, content_type: str | None) -> Any:
    """The JSON payload, whether sent as `application/json` or form-encoded `payload=`."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        try:
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise PayloadError("form-encoded body cannot be decoded") from None
        if len(form.get("payload", [])) != 1:
            raise PayloadError("form-encoded body has no single `payload` field")
        return decode_json(form["payload"][0].encode())
    return decode_json(body)


def parse_github(event_name: str, payload: Any) -> DomainEvent | None:
    """The domain event for an `X-GitHub-Event` delivery, or None when promobot ignores it."""
    parse = _PARSERS.get(event_name)
    if parse is None:
        return None
    if not isinstance(payload, dict):
        raise PayloadError(f"GitHub `{event_name}` payload is not a JSON object")
    try:
        return parse(payload)
    except ValidationError as error:
        raise describe_validation_error(error, f"GitHub `{event_name}` payload") from None


def _pull_request(payload: dict[str, Any]) -> DomainEvent | None:
    delivery = _PullRequestDelivery.model_validate(payload)
    if delivery.action not in PULL_REQUEST_ACTIONS:
        return None
    pull = delivery.pull_request
    return PullRequestChanged(
        **delivery.common(),
        number=pull.number,
        action=delivery.action,
        head_sha=pull.head.sha,
        head_ref=pull.head.ref,
        base_ref=pull.base.ref,
        labels=tuple(label.name for label in pull.labels),
        label=delivery.label.name if delivery.label else None,
        merged=bool(pull.merged),
        merge_commit_sha=pull.merge_commit_sha if pull.merged else None,
        draft=bool(pull.draft),
    )


def _review(payload: dict[str, Any]) -> DomainEvent | None:
    delivery = _ReviewDelivery.model_validate(payload)
    if delivery.action not in REVIEW_ACTIONS:
        return None
    review = delivery.review
    return ReviewSubmitted(
        **delivery.common(),
        number=delivery.pull_request.number,
        action=delivery.action,
        state=review.state.lower(),
        user=review.user.login if review.user else "ghost",
        commit_id=review.commit_id,
        review_id=review.id,
        head_sha=delivery.pull_request.head.sha,
    )


def _comment(payload: dict[str, Any]) -> DomainEvent | None:
    delivery = _CommentDelivery.model_validate(payload)
    if delivery.action != "created":
        return None
    return CommentCreated(
        **delivery.common(),
        number=delivery.issue.number,
        user=delivery.comment.user.login,
        body=delivery.comment.body or "",
        comment_id=delivery.comment.id,
        is_pull_request=delivery.issue.pull_request is not None,
    )


def _status(payload: dict[str, Any]) -> DomainEvent:
    delivery = _StatusDelivery.model_validate(payload)
    return StatusChanged(
        **delivery.common(),
        sha=delivery.sha,
        context=delivery.context,
        state=delivery.state,
        branches=tuple(branch.name for branch in delivery.branches),
    )


def _check_run(payload: dict[str, Any]) -> DomainEvent | None:
    delivery = _CheckRunDelivery.model_validate(payload)
    if delivery.action != "completed":
        return None
    run = delivery.check_run
    return CheckRunCompleted(
        **delivery.common(),
        head_sha=run.head_sha,
        name=run.name,
        conclusion=run.conclusion,
        pull_numbers=tuple(pull.number for pull in run.pull_requests),
    )


def _push(payload: dict[str, Any]) -> DomainEvent:
    delivery = _PushDelivery.model_validate(payload)
    return Pushed(
        **delivery.common(), ref=delivery.ref, before=delivery.before, after=delivery.after
    )


def _dispatch(payload: dict[str, Any]) -> DomainEvent | None:
    delivery = _DispatchDelivery.model_validate(payload)
    if delivery.action != PROPOSE_DISPATCH:
        return None
    try:
        request = _ProposeRequest.model_validate(delivery.client_payload or {})
    except ValidationError as error:
        raise describe_validation_error(
            error, f"repository_dispatch `{PROPOSE_DISPATCH}` client_payload"
        ) from None
    return ModelVersionCreated(
        registry=request.registry,
        model=request.model,
        version=request.version,
        environment=request.environment,
        run_id=request.run_id,
        source=request.source,
        repo=delivery.repository.full_name,
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], DomainEvent | None]] = {
    "pull_request": _pull_request,
    "pull_request_review": _review,
    "issue_comment": _comment,
    "status": _status,
    "check_run": _check_run,
    "push": _push,
    "repository_dispatch": _dispatch,
}
