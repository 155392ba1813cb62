"""A short-lived cache of what the board read, so that page views cost no requests.

One value per key, reused for `ttl_seconds`; when it is stale, the first caller reads it
again while the others wait for that read instead of starting their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Kept(Generic[T]):
    value: T
    read_at: float


class ReadCache(Generic[T]):
    """Values by key, each reused for `ttl_seconds` of `clock` (monotonic seconds)."""

    def __init__(
        self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 512
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._kept: dict[str, _Kept[T]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.reads = 0

    def get(self, key: str, read: Callable[[], T]) -> T:
        """The kept value of `key` while fresh, else `read()` (once, however many ask)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            kept = self._kept.get(key)
            if kept is not None and self._clock() - kept.read_at < self.ttl_seconds:
                return kept.value
            value = read()
            self.reads += 1
            with self._guard:
                if len(self._kept) >= self._max_keys and key not in self._kept:
                    oldest = min(self._kept, key=lambda k: self._kept[k].read_at)
                    del self._kept[oldest]
                    self._locks.pop(oldest, None)
                self._kept[key] = _Kept(value, self._clock())
            return value

    def clear(self) -> None:
        """Forget every value: the next `get` of each key reads again."""
        with self._guard:
            self._kept.clear()
            self._locks.clear()
