"""Promotion through stages: a version that proved itself in one stage is proposed for the next.

The tick (and `promobot apply --verify`) looks at every manifest of a stage that has a
next one: when its version has served there for the stage's soak and its health passed
the policy's `verify` limits, the version is proposed for the next stage through the
normal proposal, with the evidence in its pull request and its decision record. A version
whose verification fails is rejected for the later stages, once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from bot.domain.layout import MANIFEST_FOLDER, is_yaml, promotion_branch
from bot.domain.manifest import ModelManifest
from bot.domain.policy import Policy, Stage
from bot.domain.record import SkippedSoak, StageEvidence
from bot.domain.resolution import PolicyResolutionError, SourcedPolicy, resolve_policy
from bot.domain.stages import StageDecision, entry_for, may_advance, next_stage, stage_of
from bot.domain.verification import HealthSample
from bot.errors import PromobotError
from bot.registry.base import version_sort_key
from bot.store.base import DecisionLog
from bot.workflows.apply import TargetProvider
from bot.workflows.inputs import read_manifest, read_policies
from bot.workflows.propose import ProposeResult, propose
from bot.workflows.services import Services
from bot.workflows.stage_views import served_since

log = logging.getLogger(__name__)

HealthReader = Callable[[ModelManifest], list[HealthSample]]
"""What serves a manifest's endpoint reports about each version (requests, errors, p99)."""

REJECTED_IN_STAGE = "rejected"


def entry_environment(
    policies: Sequence[SourcedPolicy] | None, model: str, environment: str
) -> str:
    """Where a new version meant for `environment` is proposed: the first stage of the
    policy's path when `environment` is on it. Policies that cannot be read or resolved
    (None, or a conflict) are the proposal's to report, so it keeps `environment`."""
    if policies is None:
        return environment
    try:
        policy = resolve_policy(policies, model, environment)
    except PolicyResolutionError:
        return environment
    return entry_for(policy.stages, environment)


def policies_or_none(services: Services) -> list[SourcedPolicy] | None:
    """The default branch's policies, None when they do not load (the proposal says why)."""
    try:
        return read_policies(services.forge)
    except PromobotError:
        return None


def health_from(targets: TargetProvider) -> HealthReader:
    """Health of exactly the manifest's version, from the target that serves it."""

    def read(manifest: ModelManifest) -> list[HealthSample]:
        try:
            target = targets(manifest.deployment)
            samples = target.health(manifest.model, manifest.environment, manifest.deployment)
        except (PromobotError, OSError) as error:
            # No reading is no evidence: the version waits, and the next tick looks again.
            log.warning("health of %s in %s: %s", manifest.model, manifest.environment, error)
            return []
        return [sample for sample in samples if sample.version == manifest.version]

    return read


def staged_manifests(services: Services) -> list[tuple[str, str]]:
    """(model, environment) of every manifest on the default branch."""
    found = []
    for path in services.forge.list_files(MANIFEST_FOLDER):
        parts = path.split("/")
        if len(parts) == 3 and is_yaml(parts[2]):
            found.append((parts[2].rsplit(".", 1)[0], parts[1]))
    return found


def advance_stages(
    services: Services,
    decisions: DecisionLog | None,
    health: HealthReader | None,
    now: dt.datetime,
    *,
    registry: str = "mlflow",
    only: tuple[str, str] | None = None,
    skipped_soak: SkippedSoak | None = None,
) -> list[ProposeResult]:
    """Propose for the next stage every version whose soak and verification are over.

    `only` limits it to one (model, environment); `skipped_soak` (a policy owner's
    command) lets that version go on before its soak is over, never without verification.
    """
    try:
        policies = read_policies(services.forge)
    except PromobotError as error:
        log.warning("stages: %s", error)
        return []
    results = []
    for model, environment in [only] if only else staged_manifests(services):
        try:
            # The policies are read once: a model whose path has no next stage costs nothing.
            policy = resolve_policy(policies, model, environment)
            if next_stage(policy.stages, environment) is None:
                continue
            result = _advance_one(
                services,
                decisions,
                health,
                now,
                registry,
                (model, environment, policy),
                skipped_soak,
            )
        except PolicyResolutionError as error:
            log.warning("stages of %s in %s: %s", model, environment, error)
            continue
        except PromobotError as error:
            log.warning("stages of %s in %s: %s", model, environment, error)
            continue
        if result is not None:
            results.append(result)
    return results


def _advance_one(
    services: Services,
    decisions: DecisionLog | None,
    health: HealthReader | None,
    now: dt.datetime,
    registry: str,
    where: tuple[str, str, Policy],
    skipped_soak: SkippedSoak | None,
) -> ProposeResult | None:
    model, environment, policy = where
    manifest = read_manifest(services.forge, model, environment)
    if manifest is None:
        return None
    following = next_stage(policy.stages, environment)
    if following is None:
        return None
    version = manifest.version
    _close_stale_proposal(services, decisions, registry, model, environment, version, following)
    if decisions is not None and decisions.get(registry, model, version, following.environment):
        return None
    there = read_manifest(services.forge, model, following.environment)
    if there is not None and there.version == version:
        return None
    since, number = served_since(services, manifest)
    if since is None:
        return None
    samples = health(manifest) if health is not None else []
    stage = policy.stages[stage_of(policy.stages, environment) or 0]
    decision = may_advance(
        stage, policy.verify, since, samples, now, skip_soak=skipped_soak is not None
    )
    if not decision.ready:
        _reject_if_failed(decisions, registry, model, version, policy, environment, decision)
        return None
    latest = samples[-1] if samples else None
    evidence = StageEvidence(
        environment=environment,
        served_since=since,
        requests=0 if latest is None else latest.requests,
        errors=0 if latest is None else latest.errors,
        error_rate=0.0 if latest is None else latest.error_rate,
        p99_latency_ms=None if latest is None else latest.p99_latency_ms,
        pull_request=number,
        skipped_soak=skipped_soak,
    )
    log.info("%s v%s goes on from %s: %s", model, version, environment, decision.reason)
    return propose(
        services, decisions, model, version, following.environment, now, registry, stage=evidence
    )


def _close_stale_proposal(
    services: Services,
    decisions: DecisionLog | None,
    registry: str,
    model: str,
    environment: str,
    version: str,
    following: Stage,
) -> None:
    """An open proposal for the next stage whose version no longer serves in this one is
    closed: a newer version supersedes it (and is proposed after its own soak), an older
    one means it was rolled back here, which rejects it for the later stages."""
    branch = promotion_branch(model, following.environment)
    pr = next(
        (p for p in services.forge.list_promotion_pull_requests() if p.head_ref == branch), None
    )
    if pr is None:
        return
    head = read_manifest(services.forge, model, following.environment, pr.head_sha)
    if head is None or head.version == version:
        return
    if version_sort_key(version) > version_sort_key(head.version):
        why = (
            f"v{version} now serves in {environment} and supersedes v{head.version}; it is "
            f"proposed for {following.environment} once its time in {environment} is over"
        )
    else:
        why = (
            f"v{head.version} no longer serves in {environment} (rolled back to v{version}): "
            f"it is rejected for {following.environment}"
        )
        if decisions is not None:
            decisions.record(
                registry, model, head.version, following.environment, REJECTED_IN_STAGE, why
            )
    log.info("closing #%s: %s", pr.number, why)
    services.forge.close_pull_request(pr.number, comment=f"Closed by promobot: {why}.")


def _reject_if_failed(
    decisions: DecisionLog | None,
    registry: str,
    model: str,
    version: str,
    policy: Policy,
    environment: str,
    decision: StageDecision,
) -> None:
    """A version that failed verification in a stage never goes to a later one."""
    if not decision.failed or decisions is None:
        return
    index = stage_of(policy.stages, environment) or 0
    for later in policy.stages[index + 1 :]:
        if decisions.record(
            registry, model, version, later.environment, REJECTED_IN_STAGE, decision.reason
        ):
            log.warning(
                "%s v%s rejected for %s: %s", model, version, later.environment, decision.reason
            )
