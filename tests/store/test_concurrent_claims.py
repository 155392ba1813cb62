"""Many workers in several store instances (replicas) racing on one database."""

from __future__ import annotations

import threading
from collections import defaultdict

from bot.store.sql import SqlEventStore

KEYS = 6
EVENTS_PER_KEY = 15


def test_racing_workers_keep_each_key_serial_and_in_order(database_url: str) -> None:
    """No two events of a key run at once, each key runs in arrival order, none is lost."""
    replicas = [SqlEventStore(database_url, pool_size=4) for _ in range(2)]
    feeder = replicas[0]
    for index in range(EVENTS_PER_KEY):
        for key in range(KEYS):
            feeder.add(f"d-{key}-{index}", "github", "pushed", f"k{key}", {"i": index})

    lock = threading.Lock()
    running: set[str] = set()
    overlaps: list[str] = []
    order: dict[str, list[int]] = defaultdict(list)

    def work(store: SqlEventStore, name: str) -> None:
        while (event := store.claim(name, 30.0)) is not None or store.queue_depth() > 0:
            if event is None:
                continue
            with lock:
                if event.key in running:
                    overlaps.append(event.key)
                running.add(event.key)
                order[event.key].append(event.payload["i"])
            # Real work between claim and completion widens the window an overlap needs.
            assert store.get(event.id) is not None
            with lock:
                running.discard(event.key)
            assert store.complete(event)

    threads = [
        threading.Thread(target=work, args=(store, f"r{r}w{w}"))
        for r, store in enumerate(replicas)
        for w in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in replicas:
        store.close()

    assert overlaps == []
    assert dict(order) == {f"k{key}": list(range(EVENTS_PER_KEY)) for key in range(KEYS)}
