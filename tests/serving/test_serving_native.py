"""Prediction threads run native code single-threaded, so requests do not fight over cores."""

from __future__ import annotations

import threading

import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime that HistGradientBoosting uses)
from threadpoolctl import threadpool_info

from bot.serving.native import NativeThreads


def native_threads_in_new_thread(native: NativeThreads) -> dict[str, int]:
    """OpenMP and BLAS thread counts seen by a fresh thread after `limit()`."""
    seen: dict[str, int] = {}

    def work() -> None:
        native.limit()
        for library in threadpool_info():
            seen[library["user_api"]] = max(
                seen.get(library["user_api"], 0), library["num_threads"]
            )

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return seen


def test_each_prediction_thread_limits_openmp_and_blas_to_one_thread() -> None:
    """OpenMP keeps its limit per thread: every worker thread must apply it itself."""
    native = NativeThreads()
    assert native_threads_in_new_thread(native) == {"openmp": 1, "blas": 1}
    native.libraries_changed()
    assert native_threads_in_new_thread(native) == {"openmp": 1, "blas": 1}
