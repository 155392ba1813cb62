"""Promotion through stages: a version reaches the next environment only after it proved
itself in the previous one.

A policy's `stages` list the path, for example staging then production. A version enters
the first stage through the normal proposal; it is proposed for the next stage when it
has served in the previous one for `soak_minutes` and, with `verify`, its health there
passed the policy's `verify` limits. These functions decide; the workflows read the
facts (what serves since when, its health) and act.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.policy import Stage, VerifySection
from bot.domain.verification import HealthSample, verification_verdict


class StageDecision(BaseModel):
    """Whether a version may go on to the next stage, and why (not)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ready: bool = Field(description="It may be proposed for the next stage now.")
    reason: str = Field(description="One sentence for the status comment and the logs.")
    next_look: dt.datetime | None = Field(
        default=None, description="When the soak is over, while it is not."
    )


def stage_of(stages: Sequence[Stage], environment: str) -> int | None:
    """The position of `environment` on the path, or None when it is not on it."""
    return next((i for i, stage in enumerate(stages) if stage.environment == environment), None)


def entry_environments(stages: Sequence[Stage], configured: Sequence[str]) -> tuple[str, ...]:
    """Where a new version is proposed: the path's first stage, or else every configured
    environment."""
    return (stages[0].environment,) if stages else tuple(configured)


def next_stage(stages: Sequence[Stage], environment: str) -> Stage | None:
    """The stage after `environment`; None at the end of the path or off it."""
    index = stage_of(stages, environment)
    if index is None or index + 1 >= len(stages):
        return None
    return stages[index + 1]


def may_advance(
    stage: Stage,
    verify: VerifySection,
    served_since: dt.datetime,
    health: Sequence[HealthSample],
    now: dt.datetime,
    *,
    skip_soak: bool = False,
) -> StageDecision:
    """Whether a version that serves in `stage` since `served_since` may go on."""
    over = served_since + dt.timedelta(minutes=stage.soak_minutes)
    if now < over and not skip_soak:
        return StageDecision(
            ready=False,
            reason=f"soaking in {stage.environment} until {over:%Y-%m-%d %H:%M} UTC",
            next_look=over,
        )
    if not stage.verify:
        return StageDecision(
            ready=True,
            reason=f"served in {stage.environment} since {served_since:%Y-%m-%d %H:%M} UTC",
        )
    if not health or health[-1].requests == 0:
        return StageDecision(
            ready=False, reason=f"no traffic in {stage.environment} yet to verify it on"
        )
    ok, why = verification_verdict(health, verify)
    return StageDecision(ready=ok, reason=f"{stage.environment}: {why}")
