"""Which policy governs a (model, environment) when several files apply.

Precedence, section by section (`compare`, `evaluation`, `approval`,
`schedule`, `on_rejected`, `verify`):

1. Only policies whose `applies_to` matches both the model and the environment
   take part.
2. The most specific one that sets the section wins. Specificity compares the
   model pattern first, then the environment pattern: an exact name beats a
   glob, a glob with more literal characters beats one with fewer, and `*`
   comes last.
3. `defaults.yaml` (a policy named `defaults`) always ranks below every other.
4. Two policies of equal rank that both set a section to different values are
   a conflict: an error naming both, never a silent pick.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.policy import (
    SECTIONS,
    ApprovalSection,
    OnRejected,
    Policy,
    PolicyFile,
    ScheduleSection,
    VerifySection,
)

DEFAULTS_NAME = "defaults"


@dataclass(frozen=True)
class SourcedPolicy:
    """A policy file and the path it was read from."""

    path: str
    policy: PolicyFile


class PolicyResolutionError(Exception):
    """No policy applies, or two policies of equal rank disagree."""


def _pattern_rank(pattern: str) -> tuple[int, int]:
    if pattern == "*":
        return (0, 0)
    literal = sum(1 for ch in pattern if ch not in "*?[]")
    has_glob = any(ch in pattern for ch in "*?[")
    return (1 if has_glob else 2, literal)


def _best_match(patterns: Sequence[str], name: str) -> tuple[int, int] | None:
    ranks = [_pattern_rank(p) for p in patterns if fnmatch.fnmatchcase(name, p)]
    return max(ranks) if ranks else None


def rank(policy: PolicyFile, model: str, environment: str) -> tuple[int, ...] | None:
    """Sort key of a policy for (model, environment), higher first; None if it does not apply."""
    model_rank = _best_match(policy.applies_to.models, model)
    env_rank = _best_match(policy.applies_to.environments, environment)
    if model_rank is None or env_rank is None:
        return None
    is_default = policy.name == DEFAULTS_NAME
    return (0 if is_default else 1, *model_rank, *env_rank)


def resolve_policy(policies: Sequence[SourcedPolicy], model: str, environment: str) -> Policy:
    """The complete policy for (model, environment), or `PolicyResolutionError`."""
    ranked = sorted(
        ((r, p) for p in policies if (r := rank(p.policy, model, environment)) is not None),
        key=lambda item: item[0],
        reverse=True,
    )
    if not ranked:
        raise PolicyResolutionError(
            f"no policy applies to model {model!r} in environment {environment!r}; "
            "add one under policies/ or widen policies/defaults.yaml"
        )
    chosen: dict[str, object] = {}
    contributors: list[str] = []
    for section in SECTIONS:
        setters = [(r, p) for r, p in ranked if getattr(p.policy, section) is not None]
        if not setters:
            continue
        top_rank, top = setters[0]
        for other_rank, other in setters[1:]:
            if other_rank != top_rank:
                break
            if getattr(other.policy, section) != getattr(top.policy, section):
                raise PolicyResolutionError(
                    f"policies {top.path} and {other.path} both set `{section}` for "
                    f"{model!r} in {environment!r} with equal precedence; make one more "
                    "specific or remove the section from one of them"
                )
        chosen[section] = getattr(top.policy, section)
        if top.policy.name not in contributors:
            contributors.append(top.policy.name)
    if "compare" not in chosen:
        raise PolicyResolutionError(
            f"no policy sets `compare` for {model!r} in {environment!r}; "
            "add a compare section to policies/defaults.yaml"
        )
    return Policy.model_validate(
        {
            "names": tuple(contributors),
            "approval": ApprovalSection(),
            "schedule": ScheduleSection(),
            "on_rejected": OnRejected.COMMENT,
            "verify": VerifySection(),
            **chosen,
        }
    )


def patterns_overlap(a: Sequence[str], b: Sequence[str]) -> bool:
    """Some name could match a glob of `a` and a glob of `b` (one glob matches the other)."""
    return any(
        x == y or fnmatch.fnmatchcase(x, y) or fnmatch.fnmatchcase(y, x) for x in a for y in b
    )


def _static_rank(policy: PolicyFile) -> tuple[object, ...]:
    scope = policy.applies_to
    return (
        policy.name == DEFAULTS_NAME,
        sorted(map(_pattern_rank, scope.models)),
        sorted(map(_pattern_rank, scope.environments)),
    )


def find_conflicts(policies: Sequence[SourcedPolicy]) -> list[str]:
    """Pairs of policies that could govern the same model with equal rank and disagree.

    Exact for exact names; for two globs it checks whether one matches the
    other, which catches the usual copy-paste conflicts without enumerating
    names. Resolution at run time checks the concrete names again.
    """
    problems: list[str] = []
    for i, first in enumerate(policies):
        for second in policies[i + 1 :]:
            # The cheap tests first: the pattern overlap compares every pair of globs.
            disputed = [
                section
                for section in SECTIONS
                if getattr(first.policy, section) is not None
                and getattr(second.policy, section) is not None
                and getattr(first.policy, section) != getattr(second.policy, section)
            ]
            if not disputed or _static_rank(first.policy) != _static_rank(second.policy):
                continue
            a, b = first.policy.applies_to, second.policy.applies_to
            if not (
                patterns_overlap(a.models, b.models)
                and patterns_overlap(a.environments, b.environments)
            ):
                continue
            problems.extend(
                f"{first.path} and {second.path} both set `{section}` for "
                "overlapping models and environments with equal precedence; "
                "make one applies_to more specific or drop the section from one"
                for section in disputed
            )
    return problems


def standalone_policy(policy: PolicyFile, path: str = "<policy>") -> Policy:
    """One policy file on its own (as `promobot evaluate --policy` reads it), defaults filled."""
    scope = policy.model_copy(
        update={
            "applies_to": policy.applies_to.model_copy(
                update={"models": ("*",), "environments": ("*",)}
            )
        }
    )
    return resolve_policy([SourcedPolicy(path, scope)], "*", "*")
