"""Did a deployed version stay within its policy's limits? Judged from health readings."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.policy import VerifySection


class HealthSample(BaseModel):
    """Traffic-derived health of one version over a period, for verification."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(description="Version measured.")
    requests: int = Field(ge=0, description="Requests served.")
    errors: int = Field(ge=0, description="Requests that failed.")
    p99_latency_ms: float | None = Field(default=None, description="99th percentile latency.")

    @property
    def error_rate(self) -> float:
        """Errors over requests; 0 when nothing was served."""
        return self.errors / self.requests if self.requests else 0.0


def verification_verdict(
    samples: Sequence[HealthSample], verify: VerifySection, *, min_requests: int = 1
) -> tuple[bool, str]:
    """(ok, reason) from the health readings of one version, oldest first.

    Readings count since the version was deployed, so the latest one covers the
    whole window so far. Fewer than `min_requests` requests cannot fail a version.
    """
    if not samples:
        return True, "no health reading: nothing to judge"
    latest = samples[-1]
    seen = f"{latest.requests} request(s), {latest.errors} error(s)"
    if latest.requests < max(min_requests, 1):
        return True, f"{seen}: too few requests to judge"
    if latest.error_rate > verify.max_error_rate:
        return False, (
            f"error rate {latest.error_rate:.2%} ({seen}) above the policy's "
            f"max_error_rate {verify.max_error_rate:.2%}"
        )
    limit, p99 = verify.max_p99_latency_ms, latest.p99_latency_ms
    if limit is not None and p99 is not None and p99 > limit:
        return False, f"p99 latency {p99:.1f} ms above the policy's max_p99_latency_ms {limit:g}"
    return True, f"{seen}: error rate {latest.error_rate:.2%} within {verify.max_error_rate:.2%}"
