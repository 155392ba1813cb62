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
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.policy import Stage, VerifySection
from bot.domain.verification import HealthSample, verification_verdict


class StageDecision(BaseModel):
    """Whether a version may go on to the next stage, and why (not)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ready: bool = Field(description="It may be proposed for the next stage now.")
    failed: bool = Field(
        default=False,
        description="Its verification in the stage failed: rejected for the later stages.",
    )
    reason: str = Field(description="One sentence for the status comment and the logs.")
    next_look: dt.datetime | None = Field(
        default=None, description="When the soak is over, while it is not."
    )


def stage_of(stages: Sequence[Stage], environment: str) -> int | None:
    """The position of `environment` on the path, or None when it is not on it."""
    return next((i for i, stage in enumerate(stages) if stage.environment == environment), None)


def entry_for(stages: Sequence[Stage], environment: str) -> str:
    """Where a new version meant for `environment` is proposed: the path's first stage
    when `environment` is on the path (it gets there through the stages), else itself."""
    return stages[0].environment if stage_of(stages, environment) is not None else environment


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
    return StageDecision(ready=ok, failed=not ok, reason=f"{stage.environment}: {why}")


class Serving(BaseModel):
    """What a stage's manifest says, and since when it says it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(description="The version the manifest names.")
    since: dt.datetime | None = Field(
        default=None, description="When its promotion merged; None when not known."
    )
    pull_request: int | None = Field(default=None, description="The promotion pull request.")


class StageView(BaseModel):
    """One stage of a model's path as it stands: what serves, since when, what it waits for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str = Field(description="The stage's environment.")
    version: str | None = Field(description="The version its manifest names; None: none yet.")
    served_since: dt.datetime | None = Field(description="When that version's promotion merged.")
    pull_request: int | None = Field(description="That promotion's pull request.")
    waiting: str = Field(description="What the version waits for before the next stage.")
    proposed: tuple[int, str] | None = Field(
        default=None, description="The open promotion pull request of the stage and its version."
    )


def path_views(
    stages: Sequence[Stage],
    serving: Mapping[str, Serving],
    proposed: Mapping[str, tuple[int, str]],
    now: dt.datetime,
) -> list[StageView]:
    """Each stage of the path from what serves (`serving`, by environment) and what is
    proposed (`proposed`, by environment)."""
    views = []
    for index, stage in enumerate(stages):
        here = serving.get(stage.environment)
        waiting = "nothing serves yet"
        if here is not None:
            waiting = "the end of the path"
            following = stages[index + 1] if index + 1 < len(stages) else None
            there = None if following is None else serving.get(following.environment)
            if following is not None and there is not None and there.version == here.version:
                waiting = f"nothing: it serves in {following.environment} too"
            elif following is not None:
                waiting = _waiting(stage.soak_minutes, here.since, now, following)
        views.append(
            StageView(
                environment=stage.environment,
                version=None if here is None else here.version,
                served_since=None if here is None else here.since,
                pull_request=None if here is None else here.pull_request,
                waiting=waiting,
                proposed=proposed.get(stage.environment),
            )
        )
    return views


def _waiting(
    soak_minutes: float, since: dt.datetime | None, now: dt.datetime, following: Stage
) -> str:
    to = following.environment
    if since is None:
        return f"its promotion to be merged before it can go on to {to}"
    over = since + dt.timedelta(minutes=soak_minutes)
    if now < over:
        return f"its soak, until {over:%Y-%m-%d %H:%M} UTC, before {to}"
    return f"its verification, then a proposal for {to}"
