"""Policy precedence: most specific wins section by section, defaults last, ties are errors."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.policy import OnRejected, PolicyFile
from bot.domain.resolution import (
    PolicyResolutionError,
    SourcedPolicy,
    find_conflicts,
    resolve_policy,
)
from bot.formats.loading import load_policy_folder
from tests.conftest import PROJECT_ROOT


def policy(
    name: str, models: tuple[str, ...] = ("*",), envs: tuple[str, ...] = ("*",), **sections: Any
) -> SourcedPolicy:
    data: dict[str, Any] = {
        "apiVersion": "promobot/v1",
        "kind": "PromotionPolicy",
        "name": name,
        "applies_to": {"models": models, "environments": envs},
        **sections,
    }
    return SourcedPolicy(f"policies/{name}.yaml", PolicyFile.model_validate(data))


def compare(metric: str) -> dict[str, Any]:
    return {"primary": {"metric": metric}}


def test_most_specific_section_wins_and_defaults_fill_the_rest() -> None:
    """A team sets what it cares about; everything else comes from defaults.yaml."""
    policies = [
        policy("defaults", compare=compare("accuracy"), on_rejected="comment"),
        policy("churn", models=("churn-*",), compare=compare("f1")),
        policy(
            "churn-prod", models=("churn-classifier",), envs=("production",), on_rejected="close"
        ),
    ]
    resolved = resolve_policy(policies, "churn-classifier", "production")
    assert resolved.compare.primary.metric == "f1"
    assert resolved.on_rejected is OnRejected.CLOSE
    assert resolved.names == ("churn", "churn-prod")
    other = resolve_policy(policies, "fraud", "staging")
    assert other.compare.primary.metric == "accuracy"
    assert other.on_rejected is OnRejected.COMMENT


@pytest.mark.parametrize(
    ("more", "less"),
    [
        (("churn-classifier",), ("churn-*",)),
        (("churn-cl*",), ("churn-*",)),
        (("churn-*",), ("*",)),
    ],
)
def test_exact_beats_longer_glob_beats_shorter_glob(
    more: tuple[str, ...], less: tuple[str, ...]
) -> None:
    """Specificity is a total order on patterns; the README documents it."""
    policies = [
        policy("a", models=less, compare=compare("accuracy")),
        policy("b", models=more, compare=compare("f1")),
    ]
    assert resolve_policy(policies, "churn-classifier", "production").compare.primary.metric == "f1"


def test_defaults_rank_last_even_when_exact() -> None:
    """defaults.yaml is the fallback, whatever its patterns say."""
    policies = [
        policy("defaults", models=("churn-classifier",), compare=compare("accuracy")),
        policy("team", models=("*",), compare=compare("f1")),
    ]
    assert resolve_policy(policies, "churn-classifier", "production").compare.primary.metric == "f1"


def test_equal_rank_disagreement_is_an_error_naming_both() -> None:
    """Two teams claiming the same model with different rules must be told, not guessed."""
    policies = [
        policy("a", models=("churn-*",), compare=compare("f1")),
        policy("b", models=("churn-*",), compare=compare("recall")),
    ]
    with pytest.raises(PolicyResolutionError, match=r"policies/a\.yaml and policies/b\.yaml"):
        resolve_policy(policies, "churn-x", "production")
    assert len(find_conflicts(policies)) == 1


def test_equal_rank_agreement_is_fine() -> None:
    """Repeating the same section is not a conflict."""
    policies = [
        policy("a", models=("churn-*",), compare=compare("f1")),
        policy("b", models=("churn-*",), compare=compare("f1"), on_rejected="draft"),
    ]
    assert resolve_policy(policies, "churn-x", "production").on_rejected is OnRejected.DRAFT
    assert find_conflicts(policies) == []


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([policy("team", models=("fraud-*",), compare=compare("f1"))], "no policy applies"),
        ([policy("team", on_rejected="close")], "no policy sets `compare`"),
    ],
)
def test_unresolvable_is_a_clear_error(policies: list[SourcedPolicy], message: str) -> None:
    """No applicable policy, or no comparison rules at all, is a user error with a fix."""
    with pytest.raises(PolicyResolutionError, match=message):
        resolve_policy(policies, "churn-x", "production")


def test_repository_policies_resolve_for_the_example_model() -> None:
    """The shipped example: the churn team's policy governs churn-classifier in production."""
    resolved = resolve_policy(
        load_policy_folder(PROJECT_ROOT / "policies"), "churn-classifier", "production"
    )
    assert resolved.compare.primary.metric == "f1"
    assert resolved.names[0] == "churn-team"
    assert resolved.verify.max_error_rate == 0.01
