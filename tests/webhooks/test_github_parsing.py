"""GitHub payloads (octokit's published examples and the project's own fixtures) → domain
events."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
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
from tests.support.contract import OctokitExamples

# What each action of every octokit example must become (None: ignored on purpose), for
# the events promobot parses and a few it does not.
OCTOKIT_EXPECTED: dict[tuple[str, str | None], type | None] = {
    ("check_run", "completed"): CheckRunCompleted,
    ("check_run", "created"): None,
    ("check_run", "requested_action"): None,
    ("check_run", "rerequested"): None,
    ("check_suite", "completed"): None,
    ("check_suite", "requested"): None,
    ("check_suite", "rerequested"): None,
    ("installation", "created"): None,
    ("installation", "deleted"): None,
    ("installation", "new_permissions_accepted"): None,
    ("installation", "suspend"): None,
    ("installation", "unsuspend"): None,
    ("issue_comment", "created"): CommentCreated,
    ("issue_comment", "deleted"): None,
    ("issue_comment", "edited"): None,
    ("pull_request", "assigned"): None,
    ("pull_request", "closed"): PullRequestChanged,
    ("pull_request", "converted_to_draft"): PullRequestChanged,
    ("pull_request", "labeled"): PullRequestChanged,
    ("pull_request", "locked"): None,
    ("pull_request", "opened"): PullRequestChanged,
    ("pull_request", "ready_for_review"): PullRequestChanged,
    ("pull_request", "reopened"): PullRequestChanged,
    ("pull_request", "review_request_removed"): None,
    ("pull_request", "review_requested"): None,
    ("pull_request", "synchronize"): PullRequestChanged,
    ("pull_request", "unassigned"): None,
    ("pull_request", "unlabeled"): PullRequestChanged,
    ("pull_request", "unlocked"): None,
    ("pull_request_review", "dismissed"): ReviewSubmitted,
    ("pull_request_review", "submitted"): ReviewSubmitted,
    ("push", None): Pushed,
    ("repository_dispatch", "on-demand-test"): None,
    ("status", None): StatusChanged,
    ("workflow_run", "completed"): None,
    ("workflow_run", "requested"): None,
}
EXAMPLE_EVENTS = sorted({event for event, _ in OCTOKIT_EXPECTED})


def test_every_octokit_example_is_covered(octokit_examples: OctokitExamples) -> None:
    """A new example in the pinned package must get an expectation here."""
    found = {
        (event, example.get("action"))
        for event in EXAMPLE_EVENTS
        for example in octokit_examples.of(event)
    }
    assert found == set(OCTOKIT_EXPECTED)


@pytest.mark.parametrize(("key", "expected"), OCTOKIT_EXPECTED.items(), ids=str)
def test_octokit_examples_parse(
    octokit_examples: OctokitExamples,
    key: tuple[str, str | None],
    expected: type | None,
) -> None:
    """Every documented payload shape parses, the older ones without fields GitHub added
    since (`custom_properties`, ...) included; events promobot does not use are ignored."""
    event_name, action = key
    examples = [e for e in octokit_examples.of(event_name) if e.get("action") == action]
    for payload in examples:
        event = parse_github(event_name, payload)
        if expected is None:
            assert event is None
        else:
            assert isinstance(event, expected)
            assert event.repo == payload["repository"]["full_name"]


def test_a_merged_pull_request_parses(read_fixture: Callable[[str], Any]) -> None:
    """Merging is what CD waits for: the merged flag and the merge commit come through."""
    payload = read_fixture("github/pull_request.closed.merged.json")["payload"]
    event = parse_github("pull_request", payload)
    assert event == PullRequestChanged(
        repo="acme/models",
        sender="promobot[bot]",
        installation_id=48213377,
        number=42,
        action="closed",
        head_sha="5b0e4c2d9f1a7e3b8c6d4f2a0e9b7c5d3a1f8e6b",
        head_ref="promobot/production/churn-classifier",
        base_ref="main",
        labels=("promotion",),
        merged=True,
        merge_commit_sha="e2f4a6c8b0d1e3f5a7c9b2d4e6f8a0c1b3d5e7f9",
    )


def test_an_approved_review_parses_with_its_state_and_commit(
    read_fixture: Callable[[str], Any],
) -> None:
    """Approvals count only on the head SHA: the review's commit must come through."""
    payload = read_fixture("github/pull_request_review.submitted.approved.json")["payload"]
    event = parse_github("pull_request_review", payload)
    assert isinstance(event, ReviewSubmitted)
    assert (event.number, event.state, event.user) == (42, "approved", "carol")
    assert event.commit_id == "5b0e4c2d9f1a7e3b8c6d4f2a0e9b7c5d3a1f8e6b"


def test_a_comment_on_a_pull_request_is_marked_as_such(
    read_fixture: Callable[[str], Any],
) -> None:
    """`/promobot` commands only make sense on pull requests."""
    payload = read_fixture("github/issue_comment.created.on_pull_request.json")["payload"]
    event = parse_github("issue_comment", payload)
    assert isinstance(event, CommentCreated)
    assert (event.number, event.is_pull_request, event.user) == (42, True, "dana")
    assert event.serialisation_key == "pr:acme/models#42"


@pytest.mark.parametrize(
    ("sent", "parsed"), [("APPROVED", "approved"), ("CHANGES_REQUESTED", "changes_requested")]
)
def test_review_states_are_read_in_lower_case(
    read_fixture: Callable[[str], Any], sent: str, parsed: str
) -> None:
    """The REST API spells review states in upper case, webhooks in lower case."""
    payload = read_fixture("github/pull_request_review.submitted.approved.json")["payload"]
    payload["review"]["state"] = sent
    event = parse_github("pull_request_review", payload)
    assert isinstance(event, ReviewSubmitted)
    assert event.state == parsed


def test_fields_promobot_does_not_use_may_be_missing(octokit_examples: OctokitExamples) -> None:
    """Minimal parsing: optional fields dropped from a real payload change nothing else."""
    for payload in octokit_examples.of("pull_request", "labeled"):
        for field in ("labels", "draft", "merged", "merge_commit_sha"):
            del payload["pull_request"][field]
        for field in ("sender", "installation", "label"):
            payload.pop(field, None)
        event = parse_github("pull_request", payload)
        assert isinstance(event, PullRequestChanged)
        assert (event.labels, event.label, event.sender, event.draft) == ((), None, None, False)


def test_a_handled_event_without_a_needed_field_is_a_payload_error(
    octokit_examples: OctokitExamples,
) -> None:
    """The error names the field, for the 400 reply and the sender's delivery log."""
    for payload in octokit_examples.of("pull_request", "opened"):
        del payload["pull_request"]["head"]["sha"]
        with pytest.raises(PayloadError, match=r"pull_request\.head\.sha"):
            parse_github("pull_request", payload)
    with pytest.raises(PayloadError, match="not a JSON object"):
        parse_github("push", [1, 2])


def dispatch(octokit_examples: OctokitExamples, action: str, client_payload: Any) -> Any:
    payload = octokit_examples.of("repository_dispatch")[-1]
    payload["action"] = action
    payload["client_payload"] = client_payload
    return payload


def test_a_propose_dispatch_becomes_a_new_model_version(
    octokit_examples: OctokitExamples,
) -> None:
    """`repository_dispatch` with event type `promobot-propose` triggers a proposal."""
    payload = dispatch(
        octokit_examples,
        "promobot-propose",
        {"model": "churn", "version": 7, "environment": "staging"},
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


def test_a_propose_dispatch_without_a_model_is_a_payload_error(
    octokit_examples: OctokitExamples,
) -> None:
    """A person typing the dispatch by hand learns which field is missing."""
    with pytest.raises(PayloadError, match="model"):
        parse_github(
            "repository_dispatch",
            dispatch(octokit_examples, "promobot-propose", {"version": "1"}),
        )


def test_form_encoded_deliveries_are_read_like_json(octokit_examples: OctokitExamples) -> None:
    """GitHub webhooks may be configured with content type `application/x-www-form-urlencoded`."""
    for payload in octokit_examples.of("push"):
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        assert decode_github_body(body, "application/x-www-form-urlencoded") == payload
    with pytest.raises(PayloadError):
        decode_github_body(b"other=1", "application/x-www-form-urlencoded")
    with pytest.raises(PayloadError, match="not valid JSON"):
        decode_github_body(b"{nope", "application/json")
