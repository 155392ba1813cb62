"""What the tick already knows: pull requests whose readiness cannot change with time alone.

Events (a review, a check, a push, a comment) gate a pull request at once. The tick is a
safety net for lost webhooks and for time rules (a deploy window opening), so it gates a
pull request only when its head moved, its readiness said when to look again and that
time came, or it was last gated longer ago than `settle_seconds`. Each replica keeps its
own memory; after a restart every pull request is gated once.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field


@dataclass
class GateMemory:
    """The last gate of each pull request: on which head, and until when it holds."""

    settle_seconds: float = 1800.0
    _seen: dict[tuple[str, int], tuple[str, dt.datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(
        self,
        repository: str,
        number: int,
        head_sha: str,
        now: dt.datetime,
        next_look: dt.datetime | None,
    ) -> None:
        """Pull request `number` was gated at `now` on `head_sha`; a time rule may change
        its readiness at `next_look`."""
        until = now + dt.timedelta(seconds=self.settle_seconds)
        if next_look is not None:
            until = min(until, next_look)
        with self._lock:
            self._seen[(repository.lower(), number)] = (head_sha, until)

    def is_settled(self, repository: str, number: int, head_sha: str, now: dt.datetime) -> bool:
        """The tick may leave it alone: same head, and nothing due yet."""
        with self._lock:
            seen = self._seen.get((repository.lower(), number))
        return seen is not None and seen[0] == head_sha and now < seen[1]
