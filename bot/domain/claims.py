"""Which GitOps repository a registry event belongs to, when one App serves many.

A registry (MLflow, Azure ML) knows nothing of repositories. A repository claims a
model in an environment when it already holds the model's manifest there, or else
when one of its own policies (not `defaults`, which matches everything) applies to
the model and the environment. Exactly one claimant gets the proposal; two are a
configuration error, reported and proposed nowhere; none means the model is not
promobot's to propose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.resolution import DEFAULTS_NAME, SourcedPolicy, patterns_overlap, rank


@dataclass(frozen=True)
class RepositoryView:
    """What one repository's default branch says about models: policies and manifests."""

    policies: Sequence[SourcedPolicy]
    manifests: frozenset[tuple[str, str]]
    """(model, environment) pairs with a manifest."""


@dataclass(frozen=True)
class Claim:
    """Who claims (model, environment): one repository, several (a conflict), or none."""

    model: str
    environment: str
    repositories: tuple[str, ...]

    @property
    def owner(self) -> str | None:
        """The one claimant, or None (no claimant, or a conflict)."""
        return self.repositories[0] if len(self.repositories) == 1 else None

    @property
    def is_conflict(self) -> bool:
        """Two or more repositories claim it."""
        return len(self.repositories) > 1

    def describe(self) -> str:
        """One line for `/readyz`, `promobot doctor` and the logs."""
        claimants = ", ".join(self.repositories) or "no repository"
        return f"{self.model} in {self.environment}: claimed by {claimants}"


def claim(model: str, environment: str, repositories: Mapping[str, RepositoryView]) -> Claim:
    """Which repositories claim (model, environment), strongest claim first."""
    holding = sorted(
        name for name, view in repositories.items() if (model, environment) in view.manifests
    )
    if holding:
        return Claim(model, environment, tuple(holding))
    governing = sorted(
        name
        for name, view in repositories.items()
        if any(
            item.policy.name != DEFAULTS_NAME and rank(item.policy, model, environment) is not None
            for item in view.policies
        )
    )
    return Claim(model, environment, tuple(governing))


def overlapping_claims(repositories: Mapping[str, RepositoryView]) -> list[str]:
    """Pairs of repositories whose own policies could claim the same model and environment:
    a registry event for such a model would be proposed nowhere."""
    found = []
    names = sorted(repositories)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            for a in _own_policies(repositories[first]):
                for b in _own_policies(repositories[second]):
                    scope_a, scope_b = a.policy.applies_to, b.policy.applies_to
                    if patterns_overlap(scope_a.models, scope_b.models) and patterns_overlap(
                        scope_a.environments, scope_b.environments
                    ):
                        found.append(
                            f"{first} ({a.path}) and {second} ({b.path}) both claim models "
                            f"{', '.join(scope_a.models)} / {', '.join(scope_b.models)}: a "
                            "registry event for such a model is proposed nowhere; narrow one "
                            "policy's applies_to"
                        )
    return found


def _own_policies(view: RepositoryView) -> list[SourcedPolicy]:
    return [item for item in view.policies if item.policy.name != DEFAULTS_NAME]


def conflicts(
    pairs: Sequence[tuple[str, str]], repositories: Mapping[str, RepositoryView]
) -> list[Claim]:
    """The (model, environment) pairs among `pairs` that two repositories claim."""
    found = [claim(model, environment, repositories) for model, environment in pairs]
    return [item for item in found if item.is_conflict]
