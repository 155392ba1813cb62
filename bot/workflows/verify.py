"""Post-deploy verification: watch a new version for the policy's window; revert through git.

The decision (`verification_verdict`) is pure. The watch polls the target's
health until the window closes, and stops early once the version clearly
fails. A failure under `on_failure: revert` opens and merges a pull request
that reverts the promotion, so the default branch and what serves agree again
(CD applies the revert like any other change), and records the version as
rejected so it is not proposed again.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Protocol, assert_never

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.layout import POLICY_FOLDER, is_yaml
from bot.domain.manifest import ModelManifest
from bot.domain.policy import OnVerifyFailure, VerifySection
from bot.domain.resolution import PolicyResolutionError, resolve_policy
from bot.domain.verification import HealthSample, verification_verdict
from bot.errors import ForgeError
from bot.forge.base import Forge, ForgeNothingToChangeError
from bot.formats.loading import InvalidFile, load_manifest_text, load_policy_texts
from bot.gitrepo import GitRepo
from bot.targets.base import Progress, Target
from bot.workflows.apply import ApplyReport, ApplyStatus, TargetProvider
from bot.workflows.history import pull_request_of_message

EARLY_FAILURE_MIN_REQUESTS = 20
"""Requests a version must have served before the watch may stop early and fail it."""


class RecordRejected(Protocol):
    """Remembers a version that failed verification, so it is never proposed again."""

    def __call__(self, model: str, environment: str, version: str, reason: str) -> None: ...


class VerifyAction(enum.StrEnum):
    """What verification did in the end."""

    NONE = "none"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    ALERTED = "alerted"


class VerificationOutcome(BaseModel):
    """The result of watching one deployed version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model watched.")
    environment: str = Field(description="Environment.")
    version: str = Field(description="Version watched.")
    ok: bool = Field(description="True when the version stayed within the policy's limits.")
    reason: str = Field(description="Why, in one sentence.")
    samples: int = Field(ge=0, description="Health readings taken.")
    action: VerifyAction = Field(description="none, reverted, revert_failed or alerted.")
    revert_pull_request: int | None = Field(default=None, description="The revert PR, if any.")
    detail: str = Field(default="", description="What the action did, or how to finish by hand.")


def promotion_pull_request(manifest: ModelManifest, commit_message: str | None) -> int | None:
    """Number of the pull request that promoted `manifest`.

    The merge commit's message is GitHub's own record (`Title (#N)` for a
    squash, `Merge pull request #N` for a merge); the manifest's
    `evaluation.pull_request` is the fallback.
    """
    number = pull_request_of_message(commit_message) if commit_message else None
    return number if number is not None else manifest.evaluation.pull_request


def watch_version(
    target: Target,
    manifest: ModelManifest,
    verify: VerifySection,
    *,
    interval_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], None] = time.sleep,
    progress: Progress = lambda _line: None,
) -> tuple[bool, str, int]:
    """Poll the version's health until the window closes: (ok, reason, readings taken)."""
    deadline = clock() + verify.window_minutes * 60
    samples: list[HealthSample] = []
    while True:
        health = target.health(manifest.model, manifest.environment, manifest.deployment)
        sample = next((s for s in health if s.version == manifest.version), None)
        if sample is None:
            return (
                True,
                f"version {manifest.version} no longer serves: nothing to verify",
                len(samples),
            )
        samples.append(sample)
        ok, reason = verification_verdict(samples, verify, min_requests=EARLY_FAILURE_MIN_REQUESTS)
        if not ok:
            return False, reason, len(samples)
        remaining = deadline - clock()
        if remaining <= 0:
            break
        progress(f"verifying {manifest.model} {manifest.version}: {reason}")
        wait(min(interval_seconds, remaining))
    ok, reason = verification_verdict(samples, verify)
    return ok, reason, len(samples)


def verify_deployment(
    manifest: ModelManifest,
    target: Target,
    verify: VerifySection,
    *,
    forge: Forge | None,
    record_rejected: RecordRejected,
    commit_message: str | None = None,
    interval_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], None] = time.sleep,
    progress: Progress = lambda _line: None,
) -> VerificationOutcome:
    """Watch the version `manifest` deployed; on failure act as the policy says."""
    progress(
        f"verifying {manifest.model} {manifest.version} in {manifest.environment} for "
        f"{verify.window_minutes:g} min"
    )
    ok, reason, taken = watch_version(
        target,
        manifest,
        verify,
        interval_seconds=interval_seconds,
        clock=clock,
        wait=wait,
        progress=progress,
    )
    base = {
        "model": manifest.model,
        "environment": manifest.environment,
        "version": manifest.version,
        "ok": ok,
        "reason": reason,
        "samples": taken,
    }
    if ok:
        progress(f"verification passed: {reason}")
        return VerificationOutcome.model_validate({**base, "action": VerifyAction.NONE})
    progress(f"verification failed: {reason}")
    number = promotion_pull_request(manifest, commit_message)
    match verify.on_failure:
        case OnVerifyFailure.REVERT:
            record_rejected(manifest.model, manifest.environment, manifest.version, reason)
            return _revert(manifest, reason, number, forge, progress, base)
        case OnVerifyFailure.ALERT:
            return _alert(manifest, reason, number, forge, progress, base)
        case unreachable:
            assert_never(unreachable)


def _revert(
    manifest: ModelManifest,
    reason: str,
    number: int | None,
    forge: Forge | None,
    progress: Progress,
    base: dict[str, object],
) -> VerificationOutcome:
    by_hand = (
        f"revert the commit that changed {manifest.path()} with `git revert` and push it; "
        "CD then restores the version that served before"
    )
    if forge is None or number is None:
        why = "GitHub is not configured" if forge is None else "the promotion PR is unknown"
        detail = f"cannot open a revert pull request ({why}): {by_hand}"
        progress(detail)
        return VerificationOutcome.model_validate(
            {**base, "action": VerifyAction.REVERT_FAILED, "detail": detail}
        )
    body = (
        f"Post-deploy verification of {manifest.model} {manifest.version} in "
        f"{manifest.environment} failed: {reason}.\n\nThis reverts #{number}; CD then serves "
        "the version that served before, and this version will not be proposed again."
    )
    try:
        result = forge.open_revert(number, body=body, merge=True)
    except ForgeNothingToChangeError:
        detail = f"#{number} is reverted already"
        progress(detail)
        return VerificationOutcome.model_validate(
            {**base, "action": VerifyAction.REVERTED, "detail": detail}
        )
    except ForgeError as exc:
        detail = f"the revert of #{number} failed: {exc}; {by_hand}"
        progress(detail)
        return VerificationOutcome.model_validate(
            {**base, "action": VerifyAction.REVERT_FAILED, "detail": detail}
        )
    pull = result.pull_request
    detail = f"reverted #{number} with #{pull.number} (merged as {(result.merge_sha or '')[:7]})"
    progress(detail)
    return VerificationOutcome.model_validate(
        {
            **base,
            "action": VerifyAction.REVERTED,
            "revert_pull_request": pull.number,
            "detail": detail,
        }
    )


def _alert(
    manifest: ModelManifest,
    reason: str,
    number: int | None,
    forge: Forge | None,
    progress: Progress,
    base: dict[str, object],
) -> VerificationOutcome:
    detail = f"policy says `on_failure: alert`: {manifest.model} {manifest.version} keeps serving"
    if forge is not None and number is not None:
        try:
            forge.create_comment(
                number,
                f"Post-deploy verification of {manifest.model} {manifest.version} in "
                f"{manifest.environment} failed: {reason}. The policy says `alert`, so it keeps "
                "serving; comment `/promobot rollback` to revert it.",
            )
            detail += f"; commented on #{number}"
        except ForgeError as exc:
            detail += f"; the comment on #{number} failed: {exc}"
    progress(detail)
    return VerificationOutcome.model_validate(
        {**base, "action": VerifyAction.ALERTED, "detail": detail}
    )


def verify_applied(
    report: ApplyReport,
    repo: GitRepo,
    targets: TargetProvider,
    *,
    forge: Forge | None,
    record_rejected: RecordRejected,
    interval_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], None] = time.sleep,
    progress: Progress = lambda _line: None,
) -> list[VerificationOutcome]:
    """Verify, one after the other, every version `report` put into service.

    Each version is watched for its own policy's window, read from `policies/`
    at the applied commit.
    """
    applied = [r for r in report.results if r.status is ApplyStatus.APPLIED]
    if not applied:
        return []
    try:
        policies = load_policy_texts(_policy_texts(repo, report.head))
    except InvalidFile as exc:
        progress(f"verification skipped: the policies do not load: {exc}")
        return []
    outcomes = []
    for result in applied:
        manifest = load_manifest_text(repo.read_text(report.head, result.path) or "", result.path)
        try:
            policy = resolve_policy(policies, manifest.model, manifest.environment)
        except PolicyResolutionError as exc:
            progress(f"verification of {manifest.model} skipped: {exc}")
            continue
        last = repo.log(report.head, [result.path], limit=1)
        outcomes.append(
            verify_deployment(
                manifest,
                targets(manifest.deployment),
                policy.verify,
                forge=forge,
                record_rejected=record_rejected,
                commit_message=last[0].message if last else None,
                interval_seconds=interval_seconds,
                clock=clock,
                wait=wait,
                progress=progress,
            )
        )
    return outcomes


def _policy_texts(repo: GitRepo, commit: str) -> dict[str, str]:
    paths = [p for p in repo.list_files(commit, POLICY_FOLDER) if is_yaml(p)]
    return {p: repo.read_text(commit, p) or "" for p in paths}
