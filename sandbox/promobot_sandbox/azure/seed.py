"""What the sandbox Azure starts with beyond its own workspace, and tests may change while
it runs (`PATCH /_sandbox/seed`): who may call it, its pipelines, its quota, the endpoint
names other customers hold in its region, and the rules of the no-code MLflow image."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from promobot_sandbox.azure.identity import SandboxIdentity
from promobot_sandbox.azure.nocode import NoCodeRules
from promobot_sandbox.azure.pipelines import PipelineSeed
from promobot_sandbox.azure.quota import QuotaSeed


class AzureSeed(BaseModel):
    """Seedable facts of the sandbox's subscription, region and DevOps organization."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identities: list[SandboxIdentity] = Field(
        default_factory=list,
        description="Principals besides the config's `arm_token` (which is a Contributor).",
    )
    pipelines: list[PipelineSeed] = Field(
        default_factory=list, description="Azure DevOps pipelines; others do not exist."
    )
    taken_endpoint_names: list[str] = Field(
        default_factory=list,
        description="Endpoint names other customers use in the region (names are region-wide).",
    )
    quota: QuotaSeed = Field(default_factory=QuotaSeed, description="Dedicated-core quota.")
    no_code: NoCodeRules = Field(
        default_factory=NoCodeRules, description="What the no-code MLflow image accepts."
    )


class SeedPatch(BaseModel):
    """Body of `PATCH /_sandbox/seed`: list entries are added or replace the entry with the
    same key (token, pipeline id, name); `quota` limits merge; `no_code` replaces."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identities: list[SandboxIdentity] = Field(default_factory=list, description="By token.")
    pipelines: list[PipelineSeed] = Field(default_factory=list, description="By id.")
    taken_endpoint_names: list[str] = Field(default_factory=list, description="Added.")
    quota: QuotaSeed | None = Field(default=None, description="Limits and usage merged in.")
    no_code: NoCodeRules | None = Field(default=None, description="Replaces the rules.")


def merged(seed: AzureSeed, patch: SeedPatch | AzureSeed, now: float) -> AzureSeed:
    """`seed` with `patch` applied; identities with a lifetime start it at `now`."""
    identities = {i.token: i for i in seed.identities}
    for added in patch.identities:
        lifetime = added.lifetime_seconds
        started = (
            added if lifetime is None else added.model_copy(update={"expires_at": now + lifetime})
        )
        identities[added.token] = started
    pipelines = {p.id: p for p in seed.pipelines} | {p.id: p for p in patch.pipelines}
    taken = list(dict.fromkeys([*seed.taken_endpoint_names, *patch.taken_endpoint_names]))
    quota = seed.quota
    if patch.quota is not None:
        quota = QuotaSeed(
            family_limits={**quota.family_limits, **patch.quota.family_limits},
            used_elsewhere={**quota.used_elsewhere, **patch.quota.used_elsewhere},
        )
    return AzureSeed(
        identities=list(identities.values()),
        pipelines=sorted(pipelines.values(), key=lambda p: p.id),
        taken_endpoint_names=taken,
        quota=quota,
        no_code=patch.no_code or seed.no_code,
    )
