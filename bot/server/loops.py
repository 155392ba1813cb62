"""Too many events for one key within a window: the sign of a loop, not of people at work."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoopGuard:
    """Counts each key's events over a sliding window; thread-safe."""

    def __init__(
        self, limit: int, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, key: str) -> int:
        """Count one event of `key`; how many it had within the window, this one included."""
        now = self._clock()
        with self._lock:
            times = self._seen.setdefault(key, deque())
            times.append(now)
            while times and times[0] <= now - self.window_seconds:
                times.popleft()
            if len(self._seen) > 10_000:
                self._forget_quiet(now)
            return len(times)

    def is_loop(self, count: int) -> bool:
        """More events than the limit."""
        return count > self.limit

    def _forget_quiet(self, now: float) -> None:
        for key in [
            k for k, t in self._seen.items() if not t or t[-1] <= now - self.window_seconds
        ]:
            del self._seen[key]
