"""Traffic splits of an Azure ML online endpoint and the tags that date retired deployments.

An endpoint's traffic is a map deployment -> percentage that sums to 100 (or 0). A
deployment that lost its traffic carries a tag `promobot.retired.<deployment>` on the
endpoint with the time it was retired, so a later apply deletes it once its grace period
is over. ARM allows 50 tags per resource
(https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations),
so the tag leaves with its deployment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

RETIRED_TAG = "promobot.retired."


def canary_traffic(old: Mapping[str, int], new: str, share: int) -> dict[str, int]:
    """`share`% to `new`, the rest split among the old deployments as they were split."""
    rest = 100 - share
    others = {k: v for k, v in old.items() if k != new and v > 0}
    total = sum(others.values())
    if not others or total == 0:
        return {new: 100}
    exact = {k: rest * v / total for k, v in others.items()}
    shares = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True):
        if sum(shares.values()) == rest:
            break
        shares[k] += 1
    return {new: share, **{k: v for k, v in shares.items() if v > 0}}


def describe_traffic(traffic: Mapping[str, int]) -> str:
    """`v-2 10%, v-1 90%`."""
    return ", ".join(f"{name} {share}%" for name, share in traffic.items())


def tags_after(
    tags: Mapping[str, str],
    retired: Iterable[str],
    serving: str | None,
    existing: Iterable[str],
    now: str,
) -> dict[str, str]:
    """The endpoint's tags once `retired` deployments lost their traffic at `now` and
    `serving` took it: `serving` is no longer retired, and deployments that no longer exist
    lose their retirement tag."""
    alive = set(existing)
    updated = {
        key: value
        for key, value in tags.items()
        if not key.startswith(RETIRED_TAG) or key[len(RETIRED_TAG) :] in alive
    }
    updated.update({RETIRED_TAG + name: now for name in retired if name in alive})
    if serving is not None:
        updated.pop(RETIRED_TAG + serving, None)
    return updated
