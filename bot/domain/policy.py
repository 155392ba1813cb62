"""The promotion policy file: what a challenger must show, who approves, when to deploy.

`PolicyFile` mirrors `policies/<team>.yaml`. Sections left out of a file are
None here and are filled from less specific policies (see `resolution.py`),
which yields the complete `Policy` the rest of the code sees.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.comparison import Direction


class _FileModel(BaseModel):
    # NaN compares false with everything: a NaN bound or metric would decide a rule by accident.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


class OnRejected(enum.StrEnum):
    """What happens to the pull request of a challenger that fails the gates."""

    DRAFT = "draft"
    CLOSE = "close"
    COMMENT = "comment"


class Correction(enum.StrEnum):
    """Multiple-testing correction over the primary and guardrail tests."""

    HOLM = "holm"
    NONE = "none"


class OnVerifyFailure(enum.StrEnum):
    """What to do when post-deploy verification fails."""

    REVERT = "revert"
    ALERT = "alert"


MAX_GLOBS = 100
"""Globs per list in `applies_to`: checking two policies for overlap compares every pair."""

Glob = Annotated[str, Field(max_length=100)]


class AppliesTo(_FileModel):
    """Which models and environments a policy governs (shell-style globs)."""

    models: tuple[Glob, ...] = Field(
        default=("*",), min_length=1, max_length=MAX_GLOBS, description="Model globs."
    )
    environments: tuple[Glob, ...] = Field(
        default=("*",), min_length=1, max_length=MAX_GLOBS, description="Environment globs."
    )


class PrimaryRule(_FileModel):
    """The metric the challenger must improve (MLflow `MetricThreshold` semantics)."""

    metric: str = Field(description="Metric name, e.g. `f1`.")
    direction: Direction | None = Field(
        default=None, description="`maximize` or `minimize`; defaults to the metric's nature."
    )
    threshold: float | None = Field(
        default=None, description="Absolute bound the challenger's value must meet."
    )
    min_absolute_change: float | None = Field(
        default=None, ge=0, description="Least improvement over the champion, in metric units."
    )
    min_relative_change: float | None = Field(
        default=None, ge=0, description="Least improvement as a fraction of the champion's value."
    )
    significance: float | None = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Level of the one-sided test that the challenger is better; null disables it.",
    )


class GuardrailRule(_FileModel):
    """A metric that must not get worse by more than a margin (non-inferiority)."""

    metric: str = Field(description="Metric name.")
    direction: Direction | None = Field(
        default=None, description="`maximize` or `minimize`; defaults to the metric's nature."
    )
    max_regression: float = Field(
        ge=0, description="Non-inferiority margin: the largest tolerated loss, in metric units."
    )
    significance: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="When set, non-inferiority must be shown by a one-sided test at this level.",
    )


class ThresholdRule(_FileModel):
    """An absolute bound on a metric of the challenger alone."""

    metric: str = Field(description="Metric name.")
    direction: Direction | None = Field(
        default=None, description="`maximize` (a minimum) or `minimize` (a maximum)."
    )
    threshold: float = Field(description="The bound.")


class CompareSection(_FileModel):
    """How the challenger is compared with the champion."""

    primary: PrimaryRule = Field(description="The metric that must improve.")
    guardrails: tuple[GuardrailRule, ...] = Field(
        default=(), description="Metrics that must not regress beyond a margin."
    )
    thresholds: tuple[ThresholdRule, ...] = Field(
        default=(), description="Absolute bounds on the challenger."
    )
    correction: Correction = Field(
        default=Correction.HOLM,
        description="Correction over the primary test and the guardrail tests: `holm` or `none`.",
    )


class EvaluationSection(_FileModel):
    """A dataset on which both models are re-scored, paired row by row."""

    dataset: str = Field(description="CSV or Parquet file, relative to the repository root.")
    label: str = Field(description="Label column.")


class Automerge(_FileModel):
    """When the bot may merge without a `/promobot merge` command."""

    enabled: bool = Field(default=False, description="Merge automatically once ready.")
    min_improvement: float | None = Field(
        default=None,
        ge=0,
        description="Only when the primary metric improved by at least this much.",
    )


class ApprovalSection(_FileModel):
    """Who must approve a promotion."""

    required_approvals: int = Field(default=1, ge=0, description="Approvals on the head commit.")
    teams: tuple[str, ...] = Field(
        default=(), description="Team slugs whose members' approvals count (any team)."
    )
    automerge: Automerge = Field(default_factory=Automerge, description="Automatic merge.")
    required_checks: tuple[str, ...] = Field(
        default=(), description="Other status or check names that must succeed."
    )
    hold_label: str = Field(default="promobot:hold", description="Label that blocks merging.")
    owners: tuple[str, ...] = Field(
        default=(),
        description="Team slugs whose members own the policy: they may let a version skip "
        "a stage's soak (`/promobot promote --skip-soak REASON`); none: repository admins.",
    )


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE = re.compile(
    r"^(?P<days>[A-Za-z]{3}(?:-[A-Za-z]{3})?(?:,[A-Za-z]{3}(?:-[A-Za-z]{3})?)*)\s+"
    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})\s+(?P<tz>\S+)$"
)


class DeployWindow(_FileModel):
    """Days and hours in which merges (and so deployments) may happen."""

    days: tuple[Day, ...] = Field(
        default=_DAYS, min_length=1, description="Days the window opens on."
    )
    start: dt.time = Field(description="Local opening time, `HH:MM`.")
    end: dt.time = Field(description="Local closing time; before `start` means past midnight.")
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. `Europe/Rome`.")

    @model_validator(mode="before")
    @classmethod
    def _parse_shorthand(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_window_shorthand(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value


def parse_window_shorthand(text: str) -> dict[str, object]:
    """`Mon-Fri 22:00-06:00 Europe/Rome` -> the fields of a `DeployWindow`."""
    match = _WINDOW_RE.match(text.strip())
    if match is None:
        raise ValueError(
            f"cannot read window {text!r}; write it as `Mon-Fri 22:00-06:00 Europe/Rome`"
        )
    days: list[str] = []
    for part in match["days"].lower().split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"unknown day in {part!r}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        i, j = _DAYS.index(first), _DAYS.index(last or first)
        span = range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]
        days.extend(_DAYS[k] for k in span if _DAYS[k] not in days)
    return {"days": days, "start": match["start"], "end": match["end"], "timezone": match["tz"]}


class ScheduleSection(_FileModel):
    """When promotions may be merged."""

    deploy_windows: tuple[DeployWindow, ...] = Field(
        default=(), description="Merge only inside one of these; empty means any time."
    )


class VerifySection(_FileModel):
    """Post-deploy verification of the new version."""

    window_minutes: float = Field(default=30, gt=0, description="How long to watch.")
    max_error_rate: float = Field(
        default=0.01, ge=0, le=1, description="Largest tolerated error rate."
    )
    max_p99_latency_ms: float | None = Field(
        default=None, gt=0, description="Largest tolerated p99 latency."
    )
    on_failure: OnVerifyFailure = Field(
        default=OnVerifyFailure.REVERT, description="`revert` the promotion or only `alert`."
    )


class Stage(_FileModel):
    """One environment on a promotion path, and what a version must show there."""

    environment: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", description="The stage's environment."
    )
    soak_minutes: float = Field(
        default=0, ge=0, description="How long a version serves here before it may go on."
    )
    verify: bool = Field(
        default=False,
        description="It may go on only when its health here passes the policy's `verify` limits.",
    )


class PolicyFile(_FileModel):
    """One `policies/*.yaml` file as written by a team."""

    api_version: Literal["promobot/v1"] = Field(
        alias="apiVersion", description="Format version; always `promobot/v1`."
    )
    kind: Literal["PromotionPolicy"] = Field(description="Always `PromotionPolicy`.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Policy name.")
    description: str | None = Field(default=None, description="What the policy is for.")
    applies_to: AppliesTo = Field(
        default_factory=AppliesTo, description="Models and environments it governs."
    )
    compare: CompareSection | None = Field(default=None, description="Comparison rules.")
    evaluation: EvaluationSection | None = Field(
        default=None, description="Dataset for paired re-scoring of both models."
    )
    approval: ApprovalSection | None = Field(default=None, description="Approval rules.")
    schedule: ScheduleSection | None = Field(default=None, description="Deploy windows.")
    on_rejected: OnRejected | None = Field(
        default=None, description="`draft`, `close` or `comment` for a rejected challenger."
    )
    verify: VerifySection | None = Field(default=None, description="Post-deploy verification.")
    stages: tuple[Stage, ...] | None = Field(
        default=None,
        max_length=10,
        description="The promotion path, first stage first: a version enters the first and "
        "goes on only after it proved itself in each.",
    )

    @model_validator(mode="after")
    def _stages_are_distinct(self) -> PolicyFile:
        names = [stage.environment for stage in self.stages or ()]
        if len(set(names)) != len(names):
            raise ValueError("stages: each environment may appear once on the path")
        return self


SECTIONS = ("compare", "evaluation", "approval", "schedule", "on_rejected", "verify", "stages")
"""Top-level policy sections, each resolved on its own."""


class Policy(_FileModel):
    """The complete policy for one (model, environment), after resolution."""

    names: tuple[str, ...] = Field(description="Policies that contributed, most specific first.")
    compare: CompareSection = Field(description="Comparison rules.")
    evaluation: EvaluationSection | None = Field(default=None, description="Re-scoring dataset.")
    approval: ApprovalSection = Field(description="Approval rules.")
    schedule: ScheduleSection = Field(description="Deploy windows.")
    on_rejected: OnRejected = Field(description="What to do with a rejected challenger.")
    verify: VerifySection = Field(description="Post-deploy verification.")
    stages: tuple[Stage, ...] = Field(default=(), description="The promotion path; empty: none.")
