"""Which repository a registry event belongs to, and which App permissions promobot needs."""

from __future__ import annotations

import pytest

from bot.domain.claims import RepositoryView, claim, conflicts
from bot.domain.policy import PolicyFile
from bot.domain.resolution import SourcedPolicy
from bot.forge.permissions import (
    EVENTS,
    NEEDS,
    app_manifest,
    missing_permissions,
    permission_for,
)


def _policy(name: str, models: list[str], environments: list[str] | None = None) -> SourcedPolicy:
    policy = PolicyFile.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "PromotionPolicy",
            "name": name,
            "applies_to": {"models": models, "environments": environments or ["*"]},
        }
    )
    return SourcedPolicy(f"policies/{name}.yaml", policy)


def _view(
    *policies: SourcedPolicy, manifests: set[tuple[str, str]] | None = None
) -> RepositoryView:
    return RepositoryView(policies=policies, manifests=frozenset(manifests or set()))


DEFAULTS = _policy("defaults", ["*"])


def test_defaults_alone_claim_nothing() -> None:
    """Every GitOps repository has a catch-all `defaults`; it must not claim every model."""
    repositories = {"acme/models": _view(DEFAULTS), "acme/fraud": _view(DEFAULTS)}
    assert claim("churn", "production", repositories).repositories == ()


def test_a_team_policy_claims_its_models() -> None:
    repositories = {
        "acme/models": _view(DEFAULTS, _policy("churn-team", ["churn-*"])),
        "acme/fraud": _view(DEFAULTS, _policy("fraud-team", ["fraud-*"])),
    }
    assert claim("churn-classifier", "production", repositories).owner == "acme/models"
    assert claim("fraud-score", "production", repositories).owner == "acme/fraud"


def test_a_manifest_is_a_stronger_claim_than_a_policy() -> None:
    """The repository that already serves the model keeps it."""
    repositories = {
        "acme/models": _view(DEFAULTS, manifests={("churn", "production")}),
        "acme/other": _view(DEFAULTS, _policy("everything", ["c*"])),
    }
    assert claim("churn", "production", repositories).owner == "acme/models"


def test_two_claimants_are_a_conflict_proposed_nowhere() -> None:
    repositories = {
        "acme/a": _view(_policy("team-a", ["churn"])),
        "acme/b": _view(_policy("team-b", ["churn*"])),
    }
    found = claim("churn", "production", repositories)
    assert found.is_conflict
    assert found.owner is None
    assert "acme/a, acme/b" in found.describe()
    assert conflicts([("churn", "production"), ("x", "production")], repositories) == [found]


def test_an_environment_outside_the_policy_is_not_claimed() -> None:
    repositories = {"acme/a": _view(_policy("team-a", ["churn"], ["staging"]))}
    assert claim("churn", "production", repositories).owner is None
    assert claim("churn", "staging", repositories).owner == "acme/a"


def test_a_complete_installation_misses_nothing() -> None:
    granted = {need.name: need.level.name.lower() for need in NEEDS}
    assert missing_permissions(granted) == []
    granted["contents"] = "admin"
    assert missing_permissions(granted) == []


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        ({"members": None}, ["members"]),
        ({"contents": "read"}, ["contents"]),
        ({"checks": "read", "issues": "read"}, ["issues", "checks"]),
    ],
)
def test_missing_permissions_are_named(granted: dict[str, str | None], missing: list[str]) -> None:
    """`promobot doctor` names each permission an installation lacks."""
    full = {need.name: need.level.name.lower() for need in NEEDS}
    full.update({k: v for k, v in granted.items() if v is not None})
    for name, value in granted.items():
        if value is None:
            del full[name]
    assert [need.name for need in missing_permissions(full)] == missing


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("GET", "/orgs/acme/teams/ml/memberships/carol", "members"),
        ("POST", "/repos/acme/models/pulls/4/requested_reviewers", "members"),
        ("PUT", "/repos/acme/models/pulls/4/merge", "contents"),
        ("POST", "/repos/acme/models/check-runs", "checks"),
        ("POST", "/repos/acme/models/statuses/abc", "statuses"),
        ("POST", "/repos/acme/models/issues/4/comments", "issues"),
        ("GET", "/repos/acme/models/pulls/4/files", "pull_requests"),
        ("POST", "/repos/acme/models/git/trees", "contents"),
        ("POST", "/repos/acme/models/deployments", "deployments"),
    ],
)
def test_a_refused_request_names_the_permission_it_needs(
    method: str, path: str, permission: str
) -> None:
    need = permission_for(method, path)
    assert need is not None and need.name == permission


def test_the_app_manifest_asks_for_exactly_what_promobot_needs() -> None:
    manifest = app_manifest("promobot-acme", "https://bot.example.com/webhooks/github", "https://x")
    assert manifest["default_permissions"] == {
        "metadata": "read",
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
        "checks": "write",
        "statuses": "write",
        "deployments": "write",
        "members": "read",
    }
    assert manifest["default_events"] == list(EVENTS)
    assert manifest["hook_attributes"]["url"].endswith("/webhooks/github")
    assert manifest["public"] is False
