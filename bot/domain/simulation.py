"""What a policy change would have decided: earlier decisions replayed under the new policy.

Pure: decision records in, verdicts out. The replay runs the same `decide()` the bot runs,
on the comparison each record kept, so a flipped verdict is exactly what the new policy
would have done with the same evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.policy import Policy
from bot.domain.record import DecisionRecord
from bot.domain.resolution import SourcedPolicy, rank, resolve_policy
from bot.domain.verdict import Outcome, decide


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Replay(_Frozen):
    """One earlier decision, and what the new policy decides on the same evidence."""

    model: str = Field(description="Model.")
    environment: str = Field(description="Environment.")
    version: str = Field(description="The challenger's version.")
    decided_at: str = Field(description="When it was decided (ISO 8601).")
    old: Outcome = Field(description="The verdict the record holds.")
    new: Outcome = Field(description="The verdict under the new policy.")
    flipped_rules: tuple[str, ...] = Field(
        description="Rules that passed before and fail now, or the reverse."
    )
    new_failures: tuple[str, ...] = Field(description="Rules the new policy fails.")

    @property
    def changed(self) -> bool:
        """The verdict is different."""
        return self.old is not self.new


class Simulation(_Frozen):
    """Every replayed decision and the summary a reviewer reads first."""

    replays: tuple[Replay, ...] = Field(description="Oldest first.")

    @property
    def changed(self) -> tuple[Replay, ...]:
        """The decisions the change would flip."""
        return tuple(r for r in self.replays if r.changed)

    def summary(self) -> str:
        """`2 of 7 decisions would change: v4 (churn, production) promote → reject, ...`."""
        flips = ", ".join(
            f"v{r.version} ({r.model}, {r.environment}) {r.old.value} → {r.new.value}"
            for r in self.changed
        )
        total = len(self.replays)
        if not self.changed:
            return f"0 of {total} decisions would change"
        return f"{len(self.changed)} of {total} decisions would change: {flips}"


def replay(record: DecisionRecord, policy: Policy) -> Replay:
    """The record's decision under `policy`."""
    verdict = decide(record.comparison, policy)
    before = {rule.name: rule.passed for rule in record.rules}
    after = {rule.name: rule.passed for rule in verdict.rules}
    flipped = tuple(
        sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    )
    return Replay(
        model=record.model,
        environment=record.environment,
        version=record.version,
        decided_at=record.decided_at.isoformat(),
        old=record.verdict,
        new=verdict.verdict,
        flipped_rules=flipped,
        new_failures=tuple(rule.name for rule in verdict.failed),
    )


def simulate(
    records: Sequence[DecisionRecord], policy_for: Callable[[DecisionRecord], Policy | None]
) -> Simulation:
    """Replay every record whose (model, environment) the new policies govern, oldest first.

    `policy_for` resolves the new policies for a record's model and environment, None
    when they do not apply to it.
    """
    replays = []
    for record in sorted(records, key=lambda r: r.decided_at):
        policy = policy_for(record)
        if policy is not None:
            replays.append(replay(record, policy))
    return Simulation(replays=tuple(replays))


def governed_by(
    changed: Collection[str], old: Sequence[SourcedPolicy], new: Sequence[SourcedPolicy]
) -> Callable[[str, str], bool]:
    """Whether a policy file in `changed` (as it was, or as it is now) applies to
    (model, environment): only those decisions can change."""
    files = [p.policy for p in (*old, *new) if p.path in changed]
    return lambda model, environment: any(
        rank(policy, model, environment) is not None for policy in files
    )


def simulate_change(
    records: Sequence[DecisionRecord],
    old: Sequence[SourcedPolicy],
    new: Sequence[SourcedPolicy],
    changed: Collection[str],
    last: int,
) -> Simulation:
    """The last `last` decisions of the models the changed policy files govern, replayed
    under the new policies. Raises `PolicyResolutionError` when the new policies do not
    resolve for one of them (two files set a section with equal precedence, ...)."""
    governs = governed_by(changed, old, new)
    mine = (
        sorted(
            (r for r in latest_decisions(records) if governs(r.model, r.environment)),
            key=lambda r: r.decided_at,
        )[-last:]
        if last > 0
        else []
    )
    return simulate(mine, lambda r: resolve_policy(new, r.model, r.environment))


def latest_decisions(records: Iterable[DecisionRecord]) -> list[DecisionRecord]:
    """One record per (model, environment, version): the latest decision about it."""
    latest: dict[tuple[str, str, str], DecisionRecord] = {}
    for record in records:
        key = (record.model, record.environment, record.version)
        if key not in latest or latest[key].decided_at < record.decided_at:
            latest[key] = record
    return list(latest.values())
