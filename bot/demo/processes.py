"""Start the demo's services as real processes, wait until they answer, stop them all."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bot.errors import PromobotError

DEMO_PORTS = range(20_000, 32_000)
"""Below Linux's ephemeral range, so no other program is handed one of them by the kernel
between the moment a port is picked and the moment the service binds it."""

LOOPBACK = httpx.Client(timeout=5.0, limits=httpx.Limits(max_keepalive_connections=0))
"""The demo's calls to its own services on 127.0.0.1. One client: `httpx.get()` builds a
client, and a TLS context (about 20 ms of CPU), per call, and the waits poll several
times a second. No connection is kept, so a stopped service leaves nothing behind."""


def free_port() -> int:
    """A loopback port nobody listens on right now, outside the ephemeral range."""
    for _ in range(200):
        port = random.choice(DEMO_PORTS)  # noqa: S311 - not a secret
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PromobotError("no free port between 20000 and 32000 on 127.0.0.1")


def promobot_command(*args: str) -> list[str]:
    """`promobot …` run by this interpreter, so the demo works from any venv."""
    return [sys.executable, "-m", "bot", *args]


def wait_until(check: Callable[[], bool], what: str, timeout: float, interval: float = 0.2) -> None:
    """Poll `check` until it is true, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise PromobotError(f"timed out after {timeout:.0f} s waiting for {what}")


def answers(url: str) -> Callable[[], bool]:
    """A check that `url` answers with a 2xx."""

    def check() -> bool:
        try:
            return LOOPBACK.get(url, timeout=2.0).is_success
        except httpx.HTTPError:
            return False

    return check


@dataclass
class Service:
    """One started process and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    ready_url: str

    def check_alive(self) -> None:
        """Fail with the log's tail when the process died."""
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
            raise PromobotError(
                f"{self.name} exited with {self.process.returncode}; last lines of "
                f"{self.log_path}:\n" + "\n".join(tail)
            )


@dataclass
class Services:
    """The demo's processes, stopped together."""

    log_dir: Path
    started: list[Service] = field(default_factory=list)

    def launch(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str],
        ready_url: str,
        cwd: Path | None = None,
    ) -> Service:
        """Start `command` with `env` added; `wait_ready` waits for `ready_url`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            list(command),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=cwd,
            start_new_session=True,
        )
        service = Service(name, process, log_path, log_file, ready_url)
        self.started.append(service)
        return service

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until every launched service answers at its ready URL."""
        for service in self.started:
            probe = answers(service.ready_url)

            def ready(service: Service = service, probe: Callable[[], bool] = probe) -> bool:
                service.check_alive()
                return probe()

            wait_until(ready, f"{service.name} at {service.ready_url}", timeout)

    def stop(self) -> None:
        """Stop every process: SIGTERM to all at once, last started first (the bot before
        what it calls), then SIGKILL to any still running 10 s later."""
        running = list(reversed(self.started))
        for service in running:
            if service.process.poll() is None:
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for service in running:
            try:
                service.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait(timeout=10)
            service.log_file.close()
        self.started.clear()
