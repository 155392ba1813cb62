"""Crash safety with real processes: SIGKILL `promobot serve` in the middle of a burst."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bot.store.base import EventState
from bot.store.sql import SqlEventStore
from tests.server.recording import Recorder
from tests.server.support import GITHUB_SECRET, github_delivery, push_payload, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DELIVERIES = 240
KILL_AFTER = 80
WORKERS = 4


class Server:
    """`promobot serve` in a process of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        command = [
            str(Path(sys.executable).with_name("promobot")),
            "serve",
            "--port",
            "0",
            "--handler",
            "tests.server.recording:build_handler",
            "--log-level",
            "warning",
        ]
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.kill()
            raise AssertionError(f"serve did not start: {line!r}\n{log.read_text()}")
        self.url = line.rsplit(" ", 1)[1].strip()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self._close()

    def _close(self) -> None:
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._log.close()


def send(client: httpx.Client, url: str, delivery_id: str) -> int | None:
    """Deliver one signed push; the status, or None when the server was gone."""
    body, headers = github_delivery(
        "push", push_payload(ref=f"refs/heads/b{delivery_id[-1]}"), delivery_id=delivery_id
    )
    try:
        return client.post(f"{url}/webhooks/github", content=body, headers=headers).status_code
    except httpx.TransportError:
        return None


def serve_env(database_url: str, recorder: Recorder, ack_after: str) -> dict[str, str]:
    """The service's settings, and the recording handler doing 40 ms of work per event."""
    return {
        **os.environ,
        "PROMOBOT_ACK_AFTER": ack_after,
        "PYTHONPATH": str(PROJECT_ROOT),
        "PROMOBOT_DATABASE_URL": database_url,
        "PROMOBOT_GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        "PROMOBOT_WORKERS": str(WORKERS),
        "PROMOBOT_LEASE_SECONDS": "1",
        "PROMOBOT_TICK_SECONDS": "0",
        "PROMOBOT_TEST_RECORD_DB": str(recorder.path),
        "PROMOBOT_TEST_WORK_SECONDS": "0.04",
    }


def burst_then_kill(server: Server, deliveries: list[str]) -> list[str]:
    """Send the burst from 8 threads; SIGKILL the server at the KILL_AFTER-th 202.

    Returns the deliveries that were answered 202 (accepted)."""
    accepted: list[str] = []
    lock = threading.Lock()

    def deliver(client: httpx.Client, delivery_id: str) -> None:
        status = send(client, server.url, delivery_id)
        with lock:
            if status == 202:
                accepted.append(delivery_id)
                if len(accepted) == KILL_AFTER:
                    server.kill()

    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda d: deliver(client, d), deliveries))
    return accepted


def redeliver(server: Server, deliveries: list[str]) -> dict[str, int | None]:
    """Send every delivery again, as GitHub's "redeliver" would; their statuses."""
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        sent = pool.map(lambda d: send(client, server.url, d), deliveries)
        return dict(zip(deliveries, sent, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("ack_after", ["commit", "flush"])
def test_sigkill_mid_burst_loses_and_duplicates_nothing(
    database_url: str, tmp_path: Path, ack_after: str
) -> None:
    """Every accepted delivery is processed after a restart, and no effect happens twice,
    whether deliveries are answered once committed (the default) or once on disk."""
    recorder = Recorder(tmp_path / "effects.db")
    env = serve_env(database_url, recorder, ack_after)
    deliveries = [f"burst-{index:03d}" for index in range(DELIVERIES)]
    server = Server(env, tmp_path / "serve.log")
    accepted = burst_then_kill(server, deliveries)
    assert server.process.returncode == -signal.SIGKILL
    assert KILL_AFTER <= len(accepted) < DELIVERIES
    assert len(recorder.effects()) < len(accepted), "the kill came too late to test anything"

    server = Server(env, tmp_path / "serve.log")
    try:
        wait_until(
            lambda: {row[0] for row in recorder.effects()} >= set(accepted),
            timeout=60,
            what="every accepted delivery to be processed after the restart",
        )
        # Redelivering what failed stores it; redelivering the accepted ones changes nothing.
        statuses = redeliver(server, deliveries)
        assert {d for d, s in statuses.items() if s == 200} >= set(accepted)
        assert set(statuses.values()) <= {200, 202}
        wait_until(
            lambda: len(recorder.effects()) == DELIVERIES, timeout=60, what="the redeliveries"
        )
    finally:
        server.stop()

    assert sorted(row[0] for row in recorder.effects()) == deliveries
    reruns = sum(count - 1 for count in Counter(d for d, _ in recorder.executions()).values())
    assert reruns <= WORKERS, "only events in flight at the kill may run a second time"
    assert_all_done(database_url)


def assert_all_done(database_url: str) -> None:
    """One stored event per delivery, every one of them done."""
    store = SqlEventStore(database_url)
    try:
        stored = store.list_events(limit=DELIVERIES * 2)
    finally:
        store.close()
    assert len(stored) == DELIVERIES
    assert {event.state for event in stored} == {EventState.DONE}
