"""VM quota per family: reported by the usages API azure-ai-ml reads, checked synchronously
on the deployment PUT with Azure's arithmetic (ceil(1.2 x instances) x cores)."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.azure.conftest import STRICT_MODEL, StrictAzure, ml_entities


def _create(strict: StrictAzure, endpoint: str, deployment: str, sku: str, count: int) -> Any:
    """Create the endpoint if needed, then start creating the deployment."""
    entities = ml_entities()
    ml = strict.ml()
    with strict.arm() as arm:
        if arm.get(f"/onlineEndpoints/{endpoint}").status_code == 404:
            ml.online_endpoints.begin_create_or_update(
                entities.ManagedOnlineEndpoint(name=endpoint, auth_mode="key")
            ).result()
    return ml.online_deployments.begin_create_or_update(
        entities.ManagedOnlineDeployment(
            name=deployment,
            endpoint_name=endpoint,
            model=f"azureml:{STRICT_MODEL}:1",
            instance_type=sku,
            instance_count=count,
        )
    )


def _usage(strict: StrictAzure, family_name: str) -> tuple[int, int]:
    """(current value, limit) of a VM family, as `MLClient.compute.list_usage()` reads them.

    The SDK copies the REST fields onto its `Usage` under their wire names."""
    for usage in strict.ml().compute.list_usage():
        fields = vars(usage)
        if fields["name"]["value"] == family_name:
            return int(fields["currentValue"]), int(fields["limit"])
    raise AssertionError(f"no usage named {family_name}")


FSV2 = "Standard FSv2 Family Cluster Dedicated vCPUs"


def test_usages_count_each_deployment_with_the_20_percent_reservation(strict: StrictAzure) -> None:
    """Two instances of a 4-core size hold ceil(1.2 x 2) x 4 = 12 cores of the family."""
    before, _ = _usage(strict, FSV2)
    strict.seed(quota={"family_limits": {"standardFSv2Family": before + 100}})

    _create(strict, "ep-usage", "v-1", "Standard_F4s_v2", 2).result()

    assert _usage(strict, FSV2) == (before + 12, before + 100)


def test_blue_green_needs_quota_for_both_deployments_and_is_refused_on_the_put(
    strict: StrictAzure,
) -> None:
    """The second deployment of a blue/green pair does not fit: a synchronous 400 with
    Azure ML's message, and nothing is created."""
    before, _ = _usage(strict, FSV2)
    strict.seed(quota={"family_limits": {"standardFSv2Family": before + 20}})
    _create(strict, "ep-quota", "blue", "Standard_F4s_v2", 2).result()

    with pytest.raises(HttpResponseError) as refused:
        _create(strict, "ep-quota", "green", "Standard_F4s_v2", 2)

    assert refused.value.status_code == 400
    assert (
        f"Not enough quota available for Standard_F4s_v2 in SubscriptionId "
        f"{strict.config.subscription_id}. Current usage/limit: {before + 12}/{before + 20}. "
        "Additional needed: 12"
    ) in str(refused.value)
    with strict.arm() as arm:
        assert arm.get("/onlineEndpoints/ep-quota/deployments/green").status_code == 404


def test_deleting_a_deployment_gives_its_quota_back(strict: StrictAzure) -> None:
    """Quota follows the deployments that exist: after a delete the same PUT fits."""
    before, _ = _usage(strict, FSV2)
    strict.seed(quota={"family_limits": {"standardFSv2Family": before + 8}})
    _create(strict, "ep-giveback", "blue", "Standard_F4s_v2", 1).result()
    with pytest.raises(HttpResponseError):
        _create(strict, "ep-giveback", "green", "Standard_F4s_v2", 1)

    strict.ml().online_deployments.begin_delete("blue", endpoint_name="ep-giveback").result()

    assert _create(strict, "ep-giveback", "green", "Standard_F4s_v2", 1).result()


def test_gpu_families_start_without_quota(strict: StrictAzure) -> None:
    """GPU families default to zero cores until quota is requested."""
    with pytest.raises(HttpResponseError) as refused:
        _create(strict, "ep-gpu", "v-1", "Standard_NC6s_v3", 1)

    assert "Current usage/limit: 0/0. Additional needed: 12" in str(refused.value)


def test_sizes_exempt_from_the_reservation_need_only_their_cores(strict: StrictAzure) -> None:
    """An A100 size skips the 20% reservation: one 24-core instance fits 24 cores of quota."""
    strict.seed(quota={"family_limits": {"standardNCADSA100v4Family": 24}})

    deployment = _create(strict, "ep-a100", "v-1", "Standard_NC24ads_A100_v4", 1).result()

    assert deployment.provisioning_state == "Succeeded"


def test_an_instance_type_managed_endpoints_do_not_offer_is_refused(strict: StrictAzure) -> None:
    """Only the sizes of the managed online endpoints SKU list exist."""
    with pytest.raises(HttpResponseError) as refused:
        _create(strict, "ep-nosku", "v-1", "Standard_B2s", 1)

    assert refused.value.status_code == 400
    assert "Standard_B2s" in str(refused.value)


def test_vm_sizes_name_the_family_and_cores_azure_ai_ml_reads(strict: StrictAzure) -> None:
    """`MLClient.compute.list_sizes()` sees each size's family and vCPUs."""
    sizes = {size.name: vars(size) for size in strict.ml().compute.list_sizes()}

    assert sizes["Standard_DS3_v2"]["family"] == "standardDSv2Family"
    assert sizes["Standard_DS3_v2"]["vCPUs"] == 4
    assert "MIR" in sizes["Standard_F4s_v2"]["supportedComputeTypes"]
