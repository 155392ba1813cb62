"""The decisions table (no version proposed twice) and the key-value state table."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.store.sql import SqlEventStore


@pytest.fixture
def store(database_url: str) -> Iterator[SqlEventStore]:
    store = SqlEventStore(database_url)
    yield store
    store.close()


def test_a_decision_is_recorded_once(store: SqlEventStore) -> None:
    """The propose workflow relies on this to never propose one version twice."""
    decisions = store.decisions
    assert decisions.record("mlflow", "churn", "7", "production", "proposed", "PR #3")
    assert not decisions.record("mlflow", "churn", "7", "production", "rejected")
    assert decisions.record("mlflow", "churn", "7", "staging", "rejected")
    found = decisions.get("mlflow", "churn", "7", "production")
    assert found is not None
    assert (found.outcome, found.detail) == ("proposed", "PR #3")
    assert decisions.get("mlflow", "churn", "8", "production") is None
    assert [d.environment for d in decisions.list("churn")] == ["production", "staging"]
    assert decisions.list("fraud") == []


def test_concurrent_records_of_one_decision_let_exactly_one_win(store: SqlEventStore) -> None:
    """Two replicas racing on one version: the unique constraint decides, not luck."""
    barrier = threading.Barrier(6)
    wins: list[bool] = []
    lock = threading.Lock()

    def race(index: int) -> None:
        barrier.wait()
        won = store.decisions.record("azureml", "m", "1", "prod", f"proposed-{index}")
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 5 + [True]
