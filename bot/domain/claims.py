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

from bot.domain.resolution import DEFAULTS_NAME, SourcedPolicy, rank


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


def conflicts(
    pairs: Sequence[tuple[str, str]], repositories: Mapping[str, RepositoryView]
) -> list[Claim]:
    """The (model, environment) pairs among `pairs` that two repositories claim."""
    found = [claim(model, environment, repositories) for model, environment in pairs]
    return [item for item in found if item.is_conflict]
