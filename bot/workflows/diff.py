"""`promobot diff`: what serves, against what the default branch's manifests say.

Every manifest on the branch is compared with its target's state; a
difference is drift (a failed or pending apply, a canary left half-way, a
change made by hand). Reading state is cheap, so this reads every manifest.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.layout import MANIFEST_FOLDER, is_yaml
from bot.domain.manifest import ModelManifest
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.gitrepo import GitRepo
from bot.targets.base import ServingState
from bot.workflows.apply import TargetProvider, error_text


class DriftStatus(enum.StrEnum):
    """How what serves compares with the manifest."""

    IN_SYNC = "in-sync"
    DRIFT = "drift"
    UNKNOWN = "unknown"


class DriftRow(BaseModel):
    """One manifest against its endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="Manifest path.")
    model: str | None = Field(description="Model; None when the manifest could not be read.")
    environment: str | None = Field(description="Environment.")
    endpoint: str | None = Field(description="Endpoint.")
    desired: str | None = Field(description="Version the manifest asks for.")
    serving: dict[str, int] = Field(description="Version -> traffic share, as the target says.")
    status: DriftStatus = Field(description="in-sync, drift or unknown.")
    detail: str = Field(description="Why, in one line.")


class DriftReport(BaseModel):
    """Every manifest of the branch against its target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    branch: str = Field(description="Branch compared.")
    head: str = Field(description="Commit whose manifests were read.")
    rows: tuple[DriftRow, ...] = Field(description="One row per manifest, in path order.")

    @property
    def exit_code(self) -> int:
        """0 in sync, 1 when anything drifted, 2 when some state could not be read."""
        statuses = {row.status for row in self.rows}
        if DriftStatus.DRIFT in statuses:
            return 1
        return 2 if DriftStatus.UNKNOWN in statuses else 0


def drift_status(desired: str, state: ServingState) -> tuple[DriftStatus, str]:
    """Compare one manifest's version with what its endpoint serves."""
    serving = {v: s for v, s in state.traffic.items() if s > 0}
    if state.serving_version == desired:
        return DriftStatus.IN_SYNC, f"{desired} serves all traffic"
    if not serving:
        return DriftStatus.DRIFT, f"nothing serves; {desired} is wanted (run `promobot apply`)"
    shares = ", ".join(f"{v} {s}%" for v, s in sorted(serving.items(), key=lambda i: -i[1]))
    return DriftStatus.DRIFT, f"serving {shares}; {desired} is wanted"


def diff_manifests(repo: GitRepo, targets: TargetProvider, *, branch: str = "main") -> DriftReport:
    """Compare every manifest on `branch` with what its target serves."""
    head = repo.resolve(branch)
    paths = [p for p in repo.list_files(head, MANIFEST_FOLDER) if is_yaml(p)]
    rows = tuple(_row(repo, head, path, targets) for path in paths)
    return DriftReport(branch=branch, head=head, rows=rows)


def _row(repo: GitRepo, head: str, path: str, targets: TargetProvider) -> DriftRow:
    try:
        manifest = load_manifest_text(repo.read_text(head, path) or "", path)
    except InvalidFile as exc:
        return _unknown(path, None, "invalid manifest: " + "; ".join(str(p) for p in exc.problems))
    try:
        target = targets(manifest.deployment)
        state = target.state(manifest.model, manifest.environment, manifest.deployment)
    except Exception as exc:  # one unreachable target must not hide the others' drift
        return _unknown(path, manifest, f"cannot read what serves: {error_text(exc)}")
    status, detail = drift_status(manifest.version, state)
    return DriftRow(
        path=path,
        model=manifest.model,
        environment=manifest.environment,
        endpoint=manifest.deployment.endpoint,
        desired=manifest.version,
        serving={v: s for v, s in state.traffic.items() if s > 0},
        status=status,
        detail=detail,
    )


def _unknown(path: str, manifest: ModelManifest | None, detail: str) -> DriftRow:
    return DriftRow(
        path=path,
        model=manifest.model if manifest else None,
        environment=manifest.environment if manifest else None,
        endpoint=manifest.deployment.endpoint if manifest else None,
        desired=manifest.version if manifest else None,
        serving={},
        status=DriftStatus.UNKNOWN,
        detail=detail,
    )
