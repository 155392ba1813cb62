"""The VM sizes managed online deployments run on: family, cores, and the 20% reservation.

From "Managed online endpoints SKU list"
(https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list):
family name, VM size name, number of cores, and whether the size skips the 20% extra
quota Azure reserves for upgrades.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sku:
    """One VM size a managed online deployment may ask for."""

    name: str
    family: str
    cores: int
    gpus: int = 0
    skips_reservation: bool = False

    @property
    def is_gpu(self) -> bool:
        """GPU families start with zero quota."""
        return self.gpus > 0


def _sizes(family: str, sizes: dict[str, int]) -> list[Sku]:
    return [Sku(name, family, cores) for name, cores in sizes.items()]


def _gpu(family: str, name: str, cores: int, gpus: int, *, skips: bool = False) -> Sku:
    return Sku(name, family, cores, gpus=max(gpus, 1), skips_reservation=skips)


_CPU = [
    *_sizes(
        "standardDASv4Family",
        {f"Standard_D{n}as_v4": n for n in (2, 4, 8, 16, 32, 48, 64, 96)},
    ),
    *_sizes(
        "standardDAv4Family",
        {f"Standard_D{n}a_v4": n for n in (2, 4, 8, 16, 32, 48, 64, 96)},
    ),
    *_sizes(
        "standardDSv2Family",
        {"Standard_DS1_v2": 1, "Standard_DS2_v2": 2, "Standard_DS3_v2": 4}
        | {"Standard_DS4_v2": 8, "Standard_DS5_v2": 16},
    ),
    *_sizes("standardESv3Family", {f"Standard_E{n}s_v3": n for n in (2, 4, 8, 16, 32, 48, 64)}),
    *_sizes("standardFSv2Family", {f"Standard_F{n}s_v2": n for n in (2, 4, 8, 16, 32, 48, 64, 72)}),
    *_sizes("standardFXMDVSFamily", {f"Standard_FX{n}mds": n for n in (4, 12, 24, 36, 48)}),
    *_sizes("standardLASv3Family", {f"Standard_L{n}as_v3": n for n in (8, 16, 32, 48, 64, 80)}),
    *_sizes("standardLSv2Family", {f"Standard_L{n}s_v2": n for n in (8, 16, 32, 48, 64, 80)}),
    *_sizes("standardLSv3Family", {f"Standard_L{n}s_v3": n for n in (8, 16, 32, 48, 64, 80)}),
]
_GPU = [
    _gpu("standardNCADSA100v4Family", "Standard_NC24ads_A100_v4", 24, 1, skips=True),
    _gpu("standardNCADSA100v4Family", "Standard_NC48ads_A100_v4", 48, 2, skips=True),
    _gpu("standardNCADSA100v4Family", "Standard_NC96ads_A100_v4", 96, 4, skips=True),
    _gpu("standard NCASv3_T4 Family", "Standard_NC4as_T4_v3", 4, 1),
    _gpu("standard NCASv3_T4 Family", "Standard_NC8as_T4_v3", 8, 1),
    _gpu("standard NCASv3_T4 Family", "Standard_NC16as_T4_v3", 16, 1),
    _gpu("standard NCASv3_T4 Family", "Standard_NC64as_T4_v3", 64, 4),
    _gpu("standardNCSv2Family", "Standard_NC6s_v2", 6, 1),
    _gpu("standardNCSv2Family", "Standard_NC12s_v2", 12, 2),
    _gpu("standardNCSv2Family", "Standard_NC24s_v2", 24, 4),
    _gpu("standardNCSv3Family", "Standard_NC6s_v3", 6, 1),
    _gpu("standardNCSv3Family", "Standard_NC12s_v3", 12, 2),
    _gpu("standardNCSv3Family", "Standard_NC24s_v3", 24, 4),
    _gpu("standardNCADSH100v5Family", "Standard_NC40ads_H100_v5", 40, 1, skips=True),
    _gpu("standardNCADSH100v5Family", "Standard_NC80adis_H100_v5", 80, 2, skips=True),
    _gpu("standard NDAMSv4_A100Family", "Standard_ND96amsr_A100_v4", 96, 8, skips=True),
    _gpu("standard NDASv4_A100 Family", "Standard_ND96asr_v4", 96, 8, skips=True),
    _gpu("standardNDSv2Family", "Standard_ND40rs_v2", 40, 8, skips=True),
    _gpu("standardNDv5H100Family", "Standard_ND96is_H100_v5", 96, 8, skips=True),
    _gpu("standardNDv5H100Family", "Standard_ND96isr_H100_v5", 96, 8, skips=True),
    _gpu("standardNVADSA10v5Family", "Standard_NV6ads_A10_v5", 6, 1),
    _gpu("standardNVADSA10v5Family", "Standard_NV12ads_A10_v5", 12, 1),
    _gpu("standardNVADSA10v5Family", "Standard_NV18ads_A10_v5", 18, 1),
    _gpu("standardNVADSA10v5Family", "Standard_NV36ads_A10_v5", 36, 1),
    _gpu("standardNVADSA10v5Family", "Standard_NV36adms_A10_v5", 36, 1),
    _gpu("standardNVADSA10v5Family", "Standard_NV72ads_A10_v5", 72, 2),
]
SKUS: dict[str, Sku] = {sku.name.lower(): sku for sku in (*_CPU, *_GPU)}
FAMILIES: dict[str, bool] = {sku.family: sku.is_gpu for sku in SKUS.values()}
"""Every family, and whether it is a GPU family."""


def find_sku(instance_type: str) -> Sku | None:
    """The SKU of an instance type; names compare case-insensitively."""
    return SKUS.get(instance_type.lower())


def usage_name(family: str) -> str:
    """The family as the usages API names it: `standardDSv2Family` ->
    `Standard DSv2 Family Cluster Dedicated vCPUs`."""
    short = family.removeprefix("standard").removesuffix("Family").strip()
    return f"Standard {short} Family Cluster Dedicated vCPUs"
