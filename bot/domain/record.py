"""The decision record: what one promotion was decided on, committed beside its manifest.

`model-manifests/<environment>/<model>.decision.json` is written in the same commit as
the manifest, so git alone can say which version was promoted, on which evidence, under
which policy, and why. The approvals count on the merged head; they are in the merge
commit's `Approved-by:` trailers, which `promobot history` reads with the record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.comparison import Comparison
from bot.domain.layout import MANIFEST_FOLDER
from bot.domain.policy import Policy
from bot.domain.verdict import Outcome, RuleResult, Verdict

RECORD_SUFFIX = ".decision.json"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SkippedSoak(_Record):
    """A policy owner let a version skip its soak in the previous stage."""

    by: str = Field(description="Login of the policy owner who commanded it.")
    reason: str = Field(description="Why, as they wrote it.")


class StageEvidence(_Record):
    """How the version did in the previous stage of the policy's path."""

    environment: str = Field(description="The previous stage.")
    served_since: dt.datetime = Field(description="When the version started to serve there.")
    requests: int = Field(ge=0, description="Requests it served there.")
    errors: int = Field(ge=0, description="Requests that failed.")
    error_rate: float = Field(ge=0, le=1, description="errors / requests (0 without requests).")
    p99_latency_ms: float | None = Field(description="99th percentile latency, when measured.")
    pull_request: int | None = Field(description="The promotion pull request of that stage.")
    skipped_soak: SkippedSoak | None = Field(
        default=None, description="Set when the soak was skipped on command."
    )


class PolicyRecord(_Record):
    """The policy exactly as it was resolved for this decision."""

    names: tuple[str, ...] = Field(description="Policies that contributed, most specific first.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the resolved policy's canonical JSON."
    )
    resolved: Policy = Field(description="The resolved policy.")


class DecisionRecord(_Record):
    """Everything one promotion decision was made on, and the decision."""

    api_version: Literal["promobot/v1"] = Field(
        default="promobot/v1", alias="apiVersion", description="Always `promobot/v1`."
    )
    kind: Literal["DecisionRecord"] = Field(
        default="DecisionRecord", description="Always `DecisionRecord`."
    )
    model: str = Field(description="Registered model name.")
    environment: str = Field(description="Environment the version is proposed for.")
    version: str = Field(description="The challenger's version.")
    champion_version: str | None = Field(description="What served before; None at first.")
    decided_at: dt.datetime = Field(description="When the decision was made (UTC).")
    comparison: Comparison = Field(
        description="The inputs: data SHA-256, both model URIs and run ids, every metric "
        "with its interval, p-value and method."
    )
    policy: PolicyRecord = Field(description="The resolved policy and its content hash.")
    rules: tuple[RuleResult, ...] = Field(description="Each rule's result.")
    verdict: Outcome = Field(description="`promote` or `reject`.")
    stage: StageEvidence | None = Field(
        default=None, description="Evidence from the previous stage, for a later stage."
    )
    promobot_version: str = Field(description="The promobot that decided.")

    def path(self) -> str:
        """`model-manifests/<environment>/<model>.decision.json`."""
        return record_path(self.model, self.environment)


def record_path(model: str, environment: str) -> str:
    """Where the decision record of (model, environment) lives."""
    return f"{MANIFEST_FOLDER}/{environment}/{model}{RECORD_SUFFIX}"


def is_record_path(path: str) -> bool:
    """A decision record's path."""
    return path.startswith(f"{MANIFEST_FOLDER}/") and path.endswith(RECORD_SUFFIX)


def policy_digest(policy: Policy) -> str:
    """SHA-256 of the resolved policy's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_record(
    *,
    model: str,
    environment: str,
    version: str,
    champion_version: str | None,
    comparison: Comparison,
    policy: Policy,
    verdict: Verdict,
    decided_at: dt.datetime,
    promobot_version: str,
    stage: StageEvidence | None = None,
) -> DecisionRecord:
    """The record of one decision."""
    return DecisionRecord(
        model=model,
        environment=environment,
        version=version,
        champion_version=champion_version,
        decided_at=decided_at,
        comparison=comparison,
        policy=PolicyRecord(names=policy.names, sha256=policy_digest(policy), resolved=policy),
        rules=verdict.rules,
        verdict=verdict.verdict,
        stage=stage,
        promobot_version=promobot_version,
    )


def dump_record(record: DecisionRecord) -> str:
    """The record as committed: JSON, sorted keys, two-space indent, one trailing newline."""
    data = record.model_dump(mode="json", by_alias=True)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


METRIC_TOLERANCE = 1e-6


def record_mismatches(
    record: DecisionRecord,
    *,
    version: str,
    comparison: Comparison,
    policy: Policy,
    verdict: Verdict,
) -> list[str]:
    """Where a committed record disagrees with the decision made again from the registry
    and the evaluation: a record may not claim what the evidence does not give."""
    problems = []
    if record.version != version:
        problems.append(f"version is {record.version}, the manifest says {version}")
    if record.policy.sha256 != policy_digest(policy):
        problems.append("policy.sha256 is not the hash of the policy that applies")
    if record.verdict is not verdict.verdict:
        problems.append(
            f"verdict is {record.verdict.value}, the policy gives {verdict.verdict.value}"
        )
    claimed = {rule.name: rule.passed for rule in record.rules}
    actual = {rule.name: rule.passed for rule in verdict.rules}
    if claimed != actual:
        flipped = sorted(
            n for n in claimed.keys() | actual.keys() if claimed.get(n) != actual.get(n)
        )
        problems.append(f"rules {', '.join(flipped)} do not match the policy's results")
    mine, theirs = record.comparison.provenance, comparison.provenance
    for field in ("challenger_run_id", "champion_run_id", "data_sha256"):
        if getattr(mine, field) != getattr(theirs, field):
            problems.append(f"comparison.provenance.{field} does not match the registry")
    for name, metric in comparison.metrics.items():
        said = record.comparison.metrics.get(name)
        if said is None or not _close(said.challenger, metric.challenger):
            problems.append(f"comparison.metrics.{name} does not match the evaluation")
    return problems


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= METRIC_TOLERANCE


def parse_record(text: str | None) -> DecisionRecord | None:
    """A record, or None for a file that is not one (history is read, never refused)."""
    if text is None:
        return None
    try:
        return DecisionRecord.model_validate_json(text)
    except ValidationError:
        return None
