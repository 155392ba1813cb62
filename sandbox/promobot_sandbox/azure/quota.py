"""VM quota per family: checked synchronously when a deployment is created or updated.

"Azure Machine Learning reserves 20% of your compute resources for performing
upgrades on some VM SKUs. If you request a given number of instances for those VM
SKUs in a deployment, you must have a quota for `ceil(1.2 * number of instances
requested for deployment) * number of cores for the VM SKU`"
(https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#virtual-machine-quota-allocation-for-deployment).
"Each deployment subtracts from available quota and adds it back after deletion"
(https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#cpu-quota),
so every deployment that exists counts, whatever its traffic or state. Dedicated cores
default to 24 per family, GPU families to zero
(https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-compute).

A shortfall is a 400 on the PUT, worded as Azure ML words it, for example in
https://github.com/Azure-Samples/rag-data-openai-python-promptflow/issues/4.
"""

from __future__ import annotations

import json
import math
import uuid

from pydantic import BaseModel, ConfigDict, Field

from promobot_sandbox.azure.base import ArmError, JsonDict
from promobot_sandbox.azure.skus import FAMILIES, SKUS, Sku, find_sku, usage_name

DEFAULT_CPU_CORES = 24
DEFAULT_GPU_CORES = 0


class QuotaSeed(BaseModel):
    """The subscription's dedicated-core quota in the sandbox's region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Cores per VM family (e.g. `standardDSv2Family: 48`); "
        f"others have {DEFAULT_CPU_CORES} (CPU) or {DEFAULT_GPU_CORES} (GPU).",
    )
    used_elsewhere: dict[str, int] = Field(
        default_factory=dict,
        description="Cores per family already used outside the workspace's endpoints.",
    )

    def limit(self, family: str) -> int:
        """The quota of one family."""
        default = DEFAULT_GPU_CORES if FAMILIES.get(family) else DEFAULT_CPU_CORES
        return self.family_limits.get(family, default)


def required_cores(sku: Sku, instance_count: int) -> int:
    """Cores a deployment of `instance_count` instances holds against the quota."""
    instances = instance_count if sku.skips_reservation else math.ceil(1.2 * instance_count)
    return instances * sku.cores


def deployment_sku(body: JsonDict) -> tuple[Sku, int]:
    """The SKU and instance count a deployment body asks for; 400 for an unknown size."""
    props = body.get("properties") or {}
    instance_type = str(props.get("instanceType") or "")
    sku = find_sku(instance_type)
    if sku is None:
        raise ArmError(
            400,
            "BadArgument",
            f"Instance type '{instance_type}' is not supported by managed online endpoints; "
            "see https://learn.microsoft.com/azure/machine-learning/"
            "reference-managed-online-endpoints-vm-sku-list.",
        )
    count = int((body.get("sku") or {}).get("capacity") or 1)
    return sku, count


def used_cores(quota: QuotaSeed, data: JsonDict, family: str, skip: tuple[str, str]) -> int:
    """Cores of `family` in use: other workloads plus every deployment but `skip`."""
    used = quota.used_elsewhere.get(family, 0)
    for endpoint, deployments in data["deployments"].items():
        for name, resource in deployments.items():
            if (endpoint, name) == skip:
                continue
            sku = find_sku(str(resource["properties"].get("instanceType") or ""))
            if sku is not None and sku.family == family:
                used += required_cores(sku, int(resource["sku"].get("capacity") or 1))
    return used


def check_quota(
    quota: QuotaSeed, data: JsonDict, subscription: str, where: tuple[str, str], body: JsonDict
) -> None:
    """400 with Azure ML's message when the deployment's cores exceed what is left."""
    sku, count = deployment_sku(body)
    needed = required_cores(sku, count)
    used = used_cores(quota, data, sku.family, where)
    limit = quota.limit(sku.family)
    if used + needed <= limit:
        return
    problem = {
        "errors": {
            "VmSize": [
                f"Not enough quota available for {sku.name} in SubscriptionId {subscription}. "
                f"Current usage/limit: {used}/{limit}. Additional needed: {needed} Please see "
                "troubleshooting guide, available here: https://aka.ms/oe-tsg#error-outofquota"
            ]
        },
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
    }
    detail = {
        "code": "InferencingClientCreateDeploymentFailed",
        "message": f"InferencingClient HttpRequest error, error detail: {json.dumps(problem)}",
        "details": [],
        "additionalInfo": [],
    }
    raise ArmError(400, "BadRequest", "The request is invalid.", details=[detail])


def usages(quota: QuotaSeed, data: JsonDict, subscription: str, location: str) -> list[JsonDict]:
    """`Usages - List`: current use and limit of each VM family (in the REST spec's shape,
    specification/machinelearningservices/.../examples/Usage/list.json)."""
    found = []
    for family in sorted(FAMILIES):
        name = usage_name(family)
        found.append(
            {
                "id": f"/subscriptions/{subscription}/usages/{name.replace(' ', '_')}",
                "amlWorkspaceLocation": location,
                "type": "Microsoft.MachineLearningServices/vmFamily/usages",
                "unit": "Count",
                "currentValue": used_cores(quota, data, family, ("", "")),
                "limit": quota.limit(family),
                "name": {"value": name, "localizedValue": name},
            }
        )
    return found


def vm_sizes() -> list[JsonDict]:
    """`Virtual Machine Sizes - List`: the sizes managed online endpoints (`MIR`) accept."""
    return [
        {
            "name": sku.name,
            "family": sku.family,
            "vCPUs": sku.cores,
            "gpus": sku.gpus,
            "supportedComputeTypes": ["AmlCompute", "ComputeInstance", "MIR"],
        }
        for sku in SKUS.values()
    ]
