"""Pure traffic arithmetic: which version takes which request, and how shares are split.

Requests are routed by a fixed schedule rather than at random, so a 10% canary gets
exactly 10 of every 100 requests and short tests see the shares they asked for.
"""

from __future__ import annotations

from collections.abc import Mapping


def check_shares(shares: Mapping[str, int], loaded: set[str]) -> str | None:
    """Why `shares` cannot be applied, or None when they can."""
    unknown = sorted(set(shares) - loaded)
    if unknown:
        return f"version(s) {', '.join(unknown)} not loaded; load them before giving them traffic"
    if any(share < 0 or share > 100 for share in shares.values()):
        return "traffic shares must be percentages between 0 and 100"
    total = sum(shares.values())
    if total != 100:
        return f"traffic shares must add up to 100, not {total}"
    return None


def schedule(shares: Mapping[str, int]) -> tuple[str, ...]:
    """One slot per percentage point, versions interleaved as evenly as possible.

    Smooth weighted round robin: each version appears `share` times in the
    cycle, and a small share is spread out instead of arriving as a burst.
    """
    active = {version: share for version, share in sorted(shares.items()) if share > 0}
    total = sum(active.values())
    credit = dict.fromkeys(active, 0)
    slots: list[str] = []
    for _ in range(total):
        for version, share in active.items():
            credit[version] += share
        chosen = max(credit, key=lambda v: credit[v])
        credit[chosen] -= total
        slots.append(chosen)
    return tuple(slots)


def split_traffic(new: str, new_share: int, previous: Mapping[str, int]) -> dict[str, int]:
    """Give `new` its share and the rest to the previous versions, in their proportions.

    Largest remainders keep the shares whole and summing to exactly 100.
    """
    rest = 100 - new_share
    old = {version: share for version, share in previous.items() if share > 0 and version != new}
    result = dict.fromkeys(previous, 0)
    result[new] = new_share
    weight = sum(old.values())
    if not old or rest == 0:
        if rest and not old:
            raise ValueError("no previous version to give the remaining traffic to")
        return result
    exact = {version: rest * share / weight for version, share in old.items()}
    floors = {version: int(value) for version, value in exact.items()}
    missing = rest - sum(floors.values())
    by_remainder = sorted(old, key=lambda v: (floors[v] - exact[v], v))
    for version in by_remainder[:missing]:
        floors[version] += 1
    result.update(floors)
    return result
