"""GitHub payloads (octokit's examples and real captures) → domain events."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from bot.domain.manifest import RegistryKind
from bot.webhooks.events import (
    CheckRunCompleted,
    CommentCreated,
    ModelVersionCreated,
    PullRequestChanged,
    Pushed,
    ReviewSubmitted,
    StatusChanged,
)
from bot.webhooks.github import decode_github_body, parse_github
from bot.webhooks.payloads import PayloadError

OCTOKIT = "github/webhooks/octokit/examples"
REAL = "github/webhooks/real-captured/azure-sdk-tools"

# Every octokit example, with the domain event it must become (None: ignored on purpose).
OCTOKIT_EXPECTED: dict[str, type | None] = {
    "check_run/completed.payload.json": CheckRunCompleted,
    "check_run/created.payload.json": None,
    "check_suite/completed.payload.json": None,
    "check_suite/requested.payload.json": None,
    "installation/created.payload.json": None,
    "installation/created.with-requester.payload.json": None,
    "issue_comment/created.payload.json": CommentCreated,
    "issue_comment/created.with-installation.payload.json": CommentCreated,
    "pull_request/closed.payload.json": PullRequestChanged,
    "pull_request/labeled.payload.json": PullRequestChanged,
    "pull_request/opened.payload.json": PullRequestChanged,
    "pull_request/opened.with-organization.payload.json": PullRequestChanged,
    "pull_request/reopened.payload.json": PullRequestChanged,
    "pull_request/review_requested.payload.json": None,
    "pull_request/synchronize.payload.json": PullRequestChanged,
    "pull_request_review/dismissed.payload.json": ReviewSubmitted,
    "pull_request_review/submitted.payload.json": ReviewSubmitted,
    "pull_request_review/submitted.with-organization.payload.json": ReviewSubmitted,
    "push/payload.json": Pushed,
    "push/with-installation.payload.json": Pushed,
    "push/with-new-branch.payload.json": Pushed,
    "repository_dispatch/payload.json": None,
    "status/payload.json": StatusChanged,
    "status/with-installation.payload.json": StatusChanged,
    "workflow_run/completed.payload.json": None,
    "workflow_run/completed.with-pull-requests.payload.json": None,
}


def load(fixtures_dir: Path, relative: str) -> Any:
    return json.loads((fixtures_dir / relative).read_text())


def test_every_octokit_example_is_covered(fixtures_dir: Path) -> None:
    """A new example in the fixtures must get an expectation here."""
    found = {
        str(p.relative_to(fixtures_dir / OCTOKIT)) for p in (fixtures_dir / OCTOKIT).rglob("*.json")
    }
    assert found == set(OCTOKIT_EXPECTED)


@pytest.mark.parametrize(("relative", "expected"), sorted(OCTOKIT_EXPECTED.items()))
def test_octokit_examples_parse(fixtures_dir: Path, relative: str, expected: type | None) -> None:
    """Every documented payload shape parses; events promobot does not use are ignored."""
    event_name = relative.split("/", maxsplit=1)[0]
    event = parse_github(event_name, load(fixtures_dir, f"{OCTOKIT}/{relative}"))
    if expected is None:
        assert event is None
    else:
        assert isinstance(event, expected)
        assert event.repo == "Codertocat/Hello-World"


def test_a_real_merged_pull_request_parses(fixtures_dir: Path) -> None:
    """A 2023 capture without `custom_properties`: missing fields must not break parsing."""
    payload = load(fixtures_dir, f"{REAL}/ResetPullRequestActivity_pr_closed_merged.json")
    event = parse_github("pull_request", payload)
    assert event == PullRequestChanged(
        repo="Azure/azure-sdk-fake",
        sender="FakeUser1",
        number=13,
        action="closed",
        head_sha="c85b6a86e9702fc03e890506ab1858feec1bb86c",
        head_ref="MergeTest",
        base_ref="main",
        labels=("no-recent-activity",),
        merged=True,
        merge_commit_sha="9ddf41af2d1aeec63f7bb82dd9494dcbd34a3abf",
    )


def test_a_real_review_parses_with_its_state_and_commit(fixtures_dir: Path) -> None:
    """Approvals count only on the head SHA: the review's commit must come through."""
    payload = load(fixtures_dir, f"{REAL}/ResetPullRequestActivity_pr_reviewed.json")
    event = parse_github("pull_request_review", payload)
    assert isinstance(event, ReviewSubmitted)
    assert (event.number, event.state, event.user) == (10, "changes_requested", "FakeUser2")
    assert event.commit_id == "7567393d7d487c62c85ce2c58fb47a4ff52b2f2c"


def test_a_real_comment_on_a_pull_request_is_marked_as_such(fixtures_dir: Path) -> None:
    """`/promobot` commands only make sense on pull requests."""
    payload = load(fixtures_dir, f"{REAL}/ResetPullRequestActivity_pr_comment_created.json")
    event = parse_github("issue_comment", payload)
    assert isinstance(event, CommentCreated)
    assert (event.number, event.is_pull_request, event.user) == (7, True, "FakeUser2")
    assert event.serialisation_key == "pr:Azure/azure-sdk-fake#7"


def test_an_approved_review_parses_with_state_in_lower_case(fixtures_dir: Path) -> None:
    """No real `approved` payload exists upstream: the real one with its state changed."""
    payload = load(fixtures_dir, f"{REAL}/ResetPullRequestActivity_pr_reviewed.json")
    payload["review"]["state"] = "APPROVED"
    event = parse_github("pull_request_review", payload)
    assert isinstance(event, ReviewSubmitted)
    assert event.state == "approved"


def test_fields_promobot_does_not_use_may_be_missing(fixtures_dir: Path) -> None:
    """Minimal parsing: optional fields dropped from a real payload change nothing else."""
    payload = load(fixtures_dir, f"{OCTOKIT}/pull_request/labeled.payload.json")
    for field in ("labels", "draft", "merged", "merge_commit_sha"):
        del payload["pull_request"][field]
    del payload["sender"], payload["installation"], payload["label"]
    event = parse_github("pull_request", payload)
    assert isinstance(event, PullRequestChanged)
    assert (event.labels, event.label, event.sender, event.draft) == ((), None, None, False)


def test_a_handled_event_without_a_needed_field_is_a_payload_error(fixtures_dir: Path) -> None:
    """The error names the field, for the 400 reply and the sender's delivery log."""
    payload = load(fixtures_dir, f"{OCTOKIT}/pull_request/opened.payload.json")
    del payload["pull_request"]["head"]["sha"]
    with pytest.raises(PayloadError, match=r"pull_request\.head\.sha"):
        parse_github("pull_request", payload)
    with pytest.raises(PayloadError, match="not a JSON object"):
        parse_github("push", [1, 2])


def dispatch(fixtures_dir: Path, action: str, client_payload: Any) -> Any:
    payload = load(fixtures_dir, f"{OCTOKIT}/repository_dispatch/payload.json")
    payload["action"] = action
    payload["client_payload"] = client_payload
    return payload


def test_a_propose_dispatch_becomes_a_new_model_version(fixtures_dir: Path) -> None:
    """`repository_dispatch` with event type `promobot-propose` triggers a proposal."""
    payload = dispatch(
        fixtures_dir, "promobot-propose", {"model": "churn", "version": 7, "environment": "staging"}
    )
    event = parse_github("repository_dispatch", payload)
    assert event == ModelVersionCreated(
        registry=RegistryKind.MLFLOW,
        model="churn",
        version="7",
        environment="staging",
        repo="octo-org/octo-repo",
    )
    assert event.serialisation_key == "model:churn@staging"


def test_a_propose_dispatch_without_a_model_is_a_payload_error(fixtures_dir: Path) -> None:
    """A person typing the dispatch by hand learns which field is missing."""
    with pytest.raises(PayloadError, match="model"):
        parse_github(
            "repository_dispatch", dispatch(fixtures_dir, "promobot-propose", {"version": "1"})
        )


def test_form_encoded_deliveries_are_read_like_json(fixtures_dir: Path) -> None:
    """GitHub webhooks may be configured with content type `application/x-www-form-urlencoded`."""
    payload = load(fixtures_dir, f"{OCTOKIT}/push/payload.json")
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert decode_github_body(body, "application/x-www-form-urlencoded") == payload
    with pytest.raises(PayloadError):
        decode_github_body(b"other=1", "application/x-www-form-urlencoded")
    with pytest.raises(PayloadError, match="not valid JSON"):
        decode_github_body(b"{nope", "application/json")
