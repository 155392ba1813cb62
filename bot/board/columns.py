"""The board's columns: environments in the order of the policies' promotion paths."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def environment_order(paths: Iterable[Sequence[str]], others: Iterable[str]) -> tuple[str, ...]:
    """Every environment once: those on a path (`staging` before `production`) in an order
    that keeps each path's, the first seen first where paths do not say; then the others by
    name. Paths that contradict each other keep the first one's order."""
    seen: dict[str, int] = {}
    after: dict[str, set[str]] = {}
    for path in paths:
        for index, environment in enumerate(path):
            seen.setdefault(environment, len(seen))
            after.setdefault(environment, set())
            if index:
                after[path[index - 1]].add(environment)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(seen):
        waiting = {e for e in seen if e not in placed}
        blocked = {later for e in waiting for later in after[e]}
        free = sorted(waiting - blocked, key=seen.__getitem__)
        chosen = free[0] if free else min(waiting, key=seen.__getitem__)
        order.append(chosen)
        placed.add(chosen)
    rest = sorted(set(others) - placed)
    return (*order, *rest)
