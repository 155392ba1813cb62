"""One native compute thread per request thread.

The server already scores requests on a pool of threads. A model that also
fans each prediction out over OpenMP or BLAS threads (HistGradientBoosting does,
on every core) oversubscribes the machine: on two busy cores a one-row
prediction went from 8 ms to 60 ms. OpenMP keeps its thread count per calling
thread, so each worker thread sets its own limit, again whenever a newly loaded
model may have brought in a native library.
"""

from __future__ import annotations

import threading

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped, unused-ignore]


class NativeThreads:
    """Keeps OpenMP and BLAS to one thread in every thread that predicts."""

    def __init__(self) -> None:
        self._generation = 0
        self._seen = threading.local()

    def limit(self) -> None:
        """Apply the limit in the calling thread, unless it is already current there."""
        if getattr(self._seen, "generation", None) != self._generation:
            threadpool_limits(limits=1)
            self._seen.generation = self._generation

    def libraries_changed(self) -> None:
        """A model was loaded: threads apply the limit again before their next prediction."""
        self._generation += 1
