"""The contract checks themselves: they accept GitHub's own examples and catch drift,
so an empty problem list at teardown means something."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.contract import (
    OctokitExamples,
    RestContract,
    WebhookContract,
    WebhookDescription,
)

# Events promobot receives or the sandbox sends.
EVENTS = (
    "check_run",
    "check_suite",
    "deployment_status",
    "installation",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "push",
    "repository_dispatch",
    "status",
    "workflow_run",
)
# Published examples the pinned schemas reject, by (event, position in the package): the
# first example of each event predates fields GitHub added since (`custom_properties`,
# `is_template`, ...), and two check_run examples write the app's timestamps without the
# `T` of RFC 3339 (`2018-04-25 20:42:10`).
OUTDATED_EXAMPLES = {(event, 0) for event in EVENTS} | {("check_run", 7), ("check_run", 8)}


def test_octokit_examples_validate(
    webhook_contract: WebhookContract, octokit_examples: OctokitExamples
) -> None:
    """Every current example is accepted; the outdated ones are caught, which shows the
    check reads real payloads strictly."""
    rejected = set()
    checked = 0
    for event in EVENTS:
        for position, example in octokit_examples.numbered(event):
            checked += 1
            if webhook_contract.check(event, example):
                rejected.add((event, position))
    assert checked >= 80
    assert rejected == OUTDATED_EXAMPLES


def test_webhook_check_catches_a_missing_field(
    webhook_contract: WebhookContract, octokit_examples: OctokitExamples
) -> None:
    for payload in octokit_examples.of("pull_request", "opened"):
        del payload["pull_request"]["head"]["sha"]
        payload["pull_request"]["unexpected"] = 1
        problems = webhook_contract.check("pull_request", payload)
        assert any("'sha' is a required property" in p for p in problems)
        assert any("unexpected" in p for p in problems)


PROJECT_DELIVERIES = [
    ("pull_request.closed.merged.json", "pull_request"),
    ("pull_request_review.submitted.approved.json", "pull_request_review"),
    ("issue_comment.created.on_pull_request.json", "issue_comment"),
]


@pytest.mark.parametrize(("name", "event"), PROJECT_DELIVERIES)
def test_the_projects_deliveries_follow_both_published_descriptions(
    read_fixture: Callable[[str], Any],
    webhook_contract: WebhookContract,
    webhook_description: WebhookDescription,
    name: str,
    event: str,
) -> None:
    """The deliveries written in tests/fixtures are what octokit's schemas and GitHub's
    own webhook description accept; without a required field, both refuse them."""
    payload = read_fixture(f"github/{name}")["payload"]
    assert webhook_contract.check(event, payload) == []
    assert webhook_description.check(event, payload) == []
    del payload["repository"]["full_name"]
    for problems in (
        webhook_contract.check(event, payload),
        webhook_description.check(event, payload),
    ):
        assert any("'full_name' is a required property" in p for p in problems), problems


def test_rest_check_matches_operations_and_catches_drift(rest_contract: RestContract) -> None:
    assert rest_contract.is_covered("GET", "/repos/o/r/git/ref/heads/feature/x")
    assert rest_contract.is_covered("GET", "/repos/o/r/commits/abc/status")
    assert not rest_contract.is_covered("GET", "/repos/o/r/wiki")
    good_ref = {
        "ref": "refs/heads/a",
        "node_id": "x",
        "url": "http://h/x",
        "object": {"type": "commit", "sha": "a" * 40, "url": "http://h/y"},
    }
    assert (
        rest_contract.check("GET", "/repos/o/r/git/ref/heads/a", 200, json.dumps(good_ref).encode())
        == []
    )
    bad_ref = {**good_ref, "url": "not a url", "object": {"sha": "a" * 40}}
    problems = rest_contract.check(
        "GET", "/repos/o/r/git/ref/heads/a", 200, json.dumps(bad_ref).encode()
    )
    assert len(problems) == 3
    assert rest_contract.check("GET", "/repos/o/r/pulls/1", 404, b'{"message": 1}') != []


@pytest.mark.parametrize("name", ["pull-request", "full-repository", "issue-comment", "check-run"])
def test_nullable_fields_accept_null(rest_contract: RestContract, name: str) -> None:
    """OpenAPI's `nullable` must become JSON Schema's null type, or real answers fail."""
    problems = rest_contract.validate_component(name, {})
    assert problems, "an empty object must miss required fields"
    assert not any("None is not of type" in p for p in problems)
