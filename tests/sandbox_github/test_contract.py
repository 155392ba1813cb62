"""The contract checks themselves: they accept GitHub's own examples and catch drift,
so an empty problem list at teardown means something."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.contract import RestContract, WebhookContract


def test_octokit_examples_validate(webhook_contract: WebhookContract, fixtures_dir: Path) -> None:
    examples = sorted((fixtures_dir / "github/webhooks/octokit/examples").rglob("*.json"))
    assert len(examples) >= 20
    for example in examples:
        assert webhook_contract.check(example.parent.name, json.loads(example.read_text())) == [], (
            example
        )


def test_webhook_check_catches_a_missing_field(
    webhook_contract: WebhookContract, fixtures_dir: Path
) -> None:
    payload = json.loads(
        (
            fixtures_dir / "github/webhooks/octokit/examples/pull_request/opened.payload.json"
        ).read_text()
    )
    del payload["pull_request"]["head"]["sha"]
    payload["pull_request"]["unexpected"] = 1
    problems = webhook_contract.check("pull_request", payload)
    assert any("'sha' is a required property" in p for p in problems)
    assert any("unexpected" in p for p in problems)


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
