"""`promobot apply`: make every target serve what the default branch's manifests say.

Only manifests that changed since the last applied commit are touched, so the
cost follows the change, not the number of manifests, and a second run with
nothing new does no target call at all. For each changed manifest: its target
applies it (blue/green or canary; on failure the old version keeps serving),
the registry alias named after the environment moves to the serving version,
and, when GitHub is configured, a deployment with its statuses records it.

The last applied commit moves to the branch head only when every change
succeeded; a failure leaves it where it was, so the next run retries (the
manifests that did succeed are then no-ops for their targets). Rollback is not
special: a revert commit is a change like any other.

Fetching or pulling the checkout is the caller's business (the Actions
workflow checks out the pushed commit; the service pulls before it applies).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.layout import MANIFEST_FOLDER, is_yaml
from bot.domain.manifest import Deployment, ModelManifest, RegistryKind
from bot.errors import PromobotError
from bot.forge.base import DeploymentInfo, DeploymentState, Forge
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.gitrepo import ChangedFile, ChangeKind, GitRepo, apply_lock, read_marker, write_marker
from bot.registry.base import Registry
from bot.targets.base import Progress, Target

TargetProvider = Callable[[Deployment], Target]
RegistryProvider = Callable[[RegistryKind], Registry | None]


def _quiet(_line: str) -> None:
    return None


class ApplyStatus(enum.StrEnum):
    """What happened to one changed manifest."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    DELETED = "deleted"


class ManifestResult(BaseModel):
    """The outcome for one manifest that changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="Manifest path in the repository.")
    status: ApplyStatus = Field(description="applied, unchanged, failed or deleted.")
    detail: str = Field(description="What the target did, or why it failed (with a hint).")
    model: str | None = Field(default=None, description="Model, once the manifest was read.")
    environment: str | None = Field(default=None, description="Environment of the manifest.")
    version: str | None = Field(default=None, description="Version the manifest asks for.")
    deployment_id: int | None = Field(default=None, description="GitHub deployment, if recorded.")
    warnings: tuple[str, ...] = Field(
        default=(), description="Problems that did not stop the deployment (GitHub records)."
    )


class ApplyReport(BaseModel):
    """What one `apply` run did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    branch: str = Field(description="Branch (or ref) that was applied.")
    head: str = Field(description="Commit whose manifests are now the desired state.")
    base: str | None = Field(description="Commit changes were counted from; None for all.")
    results: tuple[ManifestResult, ...] = Field(description="One entry per changed manifest.")
    marker_advanced: bool = Field(description="Whether the last applied commit moved to `head`.")

    @property
    def failures(self) -> list[ManifestResult]:
        """The manifests that failed."""
        return [r for r in self.results if r.status is ApplyStatus.FAILED]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures


def deployment_environment(manifest: ModelManifest) -> str:
    """GitHub environment of a deployment: `<environment>/<model>`.

    GitHub marks earlier successful deployments of an environment inactive when
    a new one succeeds; one GitHub environment per (environment, model) keeps
    every model's current deployment visible.
    """
    return f"{manifest.environment}/{manifest.model}"


def apply_changes(
    repo: GitRepo,
    targets: TargetProvider,
    *,
    branch: str = "main",
    since: str | None = None,
    registries: RegistryProvider | None = None,
    forge: Forge | None = None,
    progress: Progress = _quiet,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    lock: bool = True,
    only: str | None = None,
) -> ApplyReport:
    """Apply the manifests of `branch` changed since the last applied commit (or `since`).

    With `only` (a manifest's path), that manifest alone is applied, whether it changed or
    not, and the last applied commit does not move: the other manifests are still due.
    Two applies on one checkout never overlap: the second waits for the first.
    A caller that pulls first holds `apply_lock(repo.git_dir)` around its pull
    and this call, and passes `lock=False` (the lock is not re-entrant).
    """
    with apply_lock(repo.git_dir) if lock else nullcontext():
        head = repo.resolve(branch)
        if only is not None:
            return _apply_one(
                repo, head, only, _Deployer(repo, head, targets, registries, forge, progress)
            )
        base = _base_commit(repo, branch, since, progress)
        if base == head:
            progress(f"{branch} is applied up to {head[:7]}: nothing to do")
            return ApplyReport(
                branch=branch, head=head, base=base, results=(), marker_advanced=False
            )
        changes = _changes(repo, base, head)
        progress(f"{len(changes)} manifest(s) changed between {_short(base)} and {head[:7]}")
        deployer = _Deployer(repo, head, targets, registries, forge, progress)
        results = tuple(deployer.apply(change) for change in changes)
        failed = [r for r in results if r.status is ApplyStatus.FAILED]
        if not failed:
            write_marker(repo.git_dir, branch, head, clock())
        else:
            kept = f"stays at {base[:7]}" if base else "is not recorded yet"
            progress(f"{len(failed)} failure(s): the last applied commit {kept}")
        return ApplyReport(
            branch=branch, head=head, base=base, results=results, marker_advanced=not failed
        )


def _apply_one(repo: GitRepo, head: str, path: str, deployer: _Deployer) -> ApplyReport:
    kind = ChangeKind.MODIFIED if repo.read_text(head, path) is not None else ChangeKind.DELETED
    deployer.progress(f"applying {path} alone; the last applied commit does not move")
    result = deployer.apply(ChangedFile(path, kind))
    return ApplyReport(branch=head, head=head, base=None, results=(result,), marker_advanced=False)


def _base_commit(repo: GitRepo, branch: str, since: str | None, progress: Progress) -> str | None:
    if since is not None and set(since) == {"0"}:
        # GitHub's `before` of a push that created the branch: there is no earlier state.
        progress("--since is the null commit: applying every manifest")
        return None
    if since is not None:
        return repo.resolve(since)
    base = read_marker(repo.git_dir, branch)
    if base is None:
        progress(f"no apply recorded for {branch} yet: applying every manifest")
        return None
    if not repo.has_commit(base):
        progress(f"last applied commit {base[:7]} is gone from the repository: applying everything")
        return None
    return base


def _changes(repo: GitRepo, base: str | None, head: str) -> list[ChangedFile]:
    if base is None:
        found = [ChangedFile(p, ChangeKind.ADDED) for p in repo.list_files(head, MANIFEST_FOLDER)]
    else:
        found = repo.changed_files(base, head, MANIFEST_FOLDER)
    return sorted((c for c in found if is_yaml(c.path)), key=lambda c: c.path)


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "the beginning"


@dataclass
class _Deployer:
    """Applies one changed manifest at a time; never lets one failure stop the others."""

    repo: GitRepo
    head: str
    targets: TargetProvider
    registries: RegistryProvider | None
    forge: Forge | None
    progress: Progress

    def apply(self, change: ChangedFile) -> ManifestResult:
        if change.kind is ChangeKind.DELETED:
            detail = (
                "manifest deleted: what it deployed keeps serving; promobot never undeploys on "
                "a deletion (stop the endpoint by hand if that is what you meant)"
            )
            self.progress(f"{change.path}: {detail}")
            return ManifestResult(path=change.path, status=ApplyStatus.DELETED, detail=detail)
        text = self.repo.read_text(self.head, change.path) or ""
        try:
            manifest = load_manifest_text(text, change.path)
        except InvalidFile as exc:
            detail = "invalid manifest, not applied:\n" + "\n".join(str(p) for p in exc.problems)
            self.progress(f"{change.path}: {detail}")
            return ManifestResult(path=change.path, status=ApplyStatus.FAILED, detail=detail)
        return self._deploy(manifest)

    def _deploy(self, manifest: ModelManifest) -> ManifestResult:
        say = _prefixed(self.progress, f"{manifest.model}/{manifest.environment}")
        say(f"deploying version {manifest.version} to {manifest.deployment.endpoint}")
        warnings: list[str] = []
        record = self._record_start(manifest, warnings, say)
        try:
            outcome = self.targets(manifest.deployment).apply(manifest, say)
        except Exception as exc:  # one model's failure must not stop the others
            detail = error_text(exc)
            say(f"failed: {detail}")
            self._record_end(record, DeploymentState.FAILURE, detail, warnings, say)
            return _result(manifest, ApplyStatus.FAILED, detail, record, warnings)
        self._record_end(record, DeploymentState.SUCCESS, outcome.detail, warnings, say)
        status = ApplyStatus.APPLIED if outcome.changed else ApplyStatus.UNCHANGED
        say(outcome.detail)
        try:
            self._move_alias(manifest, say)
        except Exception as exc:  # serving is done; the alias is retried by the next run
            detail = f"serving, but the registry alias was not moved: {error_text(exc)}"
            say(detail)
            return _result(manifest, ApplyStatus.FAILED, detail, record, warnings)
        return _result(manifest, status, outcome.detail, record, warnings)

    def _move_alias(self, manifest: ModelManifest, say: Progress) -> None:
        registry = self.registries(manifest.source.registry) if self.registries else None
        if registry is None:
            say(f"no {manifest.source.registry.value} registry configured: alias not moved")
            return
        registry.set_alias(manifest.model, manifest.environment, manifest.version)
        say(f"alias {manifest.environment!r} -> version {manifest.version}")

    def _record_start(
        self, manifest: ModelManifest, warnings: list[str], say: Progress
    ) -> DeploymentInfo | None:
        if self.forge is None:
            return None
        description = f"{manifest.model} {manifest.version} to {manifest.deployment.endpoint}"
        payload = {
            "model": manifest.model,
            "environment": manifest.environment,
            "version": manifest.version,
            "endpoint": manifest.deployment.endpoint,
            "target": manifest.deployment.target.value,
            "manifest": manifest.path(),
        }
        try:
            record = self.forge.create_deployment(
                self.head,
                deployment_environment(manifest),
                payload=payload,
                description=description,
            )
            self.forge.set_deployment_status(
                record.id, DeploymentState.IN_PROGRESS, description=f"deploying {description}"
            )
        except PromobotError as exc:
            self._warn(f"GitHub deployment not recorded: {exc}", warnings, say)
            return None
        say(f"GitHub deployment {record.id} ({deployment_environment(manifest)}) in progress")
        return record

    def _record_end(
        self,
        record: DeploymentInfo | None,
        state: DeploymentState,
        detail: str,
        warnings: list[str],
        say: Progress,
    ) -> None:
        if self.forge is None or record is None:
            return
        try:
            self.forge.set_deployment_status(record.id, state, description=detail)
        except PromobotError as exc:
            self._warn(f"GitHub deployment {record.id} status not set: {exc}", warnings, say)

    @staticmethod
    def _warn(message: str, warnings: list[str], say: Progress) -> None:
        warnings.append(message)
        say(f"warning: {message}")


def _result(
    manifest: ModelManifest,
    status: ApplyStatus,
    detail: str,
    record: DeploymentInfo | None,
    warnings: list[str],
) -> ManifestResult:
    return ManifestResult(
        path=manifest.path(),
        status=status,
        detail=detail,
        model=manifest.model,
        environment=manifest.environment,
        version=manifest.version,
        deployment_id=record.id if record else None,
        warnings=tuple(warnings),
    )


def _prefixed(progress: Progress, prefix: str) -> Progress:
    def say(line: str) -> None:
        progress(f"[{prefix}] {line}")

    return say


def error_text(exc: BaseException) -> str:
    """An error for the report: promobot's own message, or the exception named as a bug."""
    if isinstance(exc, PromobotError):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (this looks like a bug in promobot; please report it)"
