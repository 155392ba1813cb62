"""Webhook ingest: promobot's endpoint against a bare FastAPI endpoint (the ceiling).

An open-loop load generator (this process) sends signed GitHub `pull_request` deliveries
(octokit's 28 kB example, spread over 64 pull requests, a fresh delivery id each) at
fixed rates over loopback to servers running in processes of their own:

- ceiling: a bare FastAPI app that reads the body and answers 202 (same uvicorn setup);
- disk: the same app, but it appends each body to a file and waits for `fdatasync`
  before answering: what this disk allows any endpoint that answers only once a
  delivery is on disk;
- promobot: `python -m bot.server` (= `promobot serve`): verify the signature, parse,
  store (group commit), answer 202, while its workers drain the queue. Once as it runs
  by default (`PROMOBOT_ACK_AFTER=commit`: answer once committed) and once with
  `PROMOBOT_ACK_AFTER=flush` (answer once on disk).

Latency is measured from each request's scheduled send time, so a server that falls
behind is charged for the queueing it causes. Goal: promobot keeps at least 50% of the
ceiling's throughput, with p99 under 50 ms at 200 deliveries/s, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/webhook_ingest.py [--rates 200 800] [--seconds 5]

PostgreSQL is used when PROMOBOT_TEST_POSTGRES_URL is set (`eval "$(.ci/postgres.sh)"`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from bot.webhooks.signatures import sign_github  # noqa: E402
from tests.support.contract import (  # noqa: E402
    WEBHOOK_EXAMPLES,
    OctokitExamples,
    published_file,
)
from tests.support.postgres import URL_VARIABLE, isolated_schema  # noqa: E402

SECRET = "benchmark-secret"
CONNECTIONS = 64


def serve_ceiling(journal: Path | None) -> None:
    """The ceiling: FastAPI + uvicorn exactly as promobot runs them, doing nothing else;
    with a `journal`, each body is appended to it and flushed to disk before the 202."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    descriptor = None if journal is None else os.open(journal, os.O_WRONLY | os.O_CREAT)
    lock = threading.Lock()

    def append(body: bytes) -> None:
        assert descriptor is not None
        with lock:
            os.write(descriptor, body)
            os.fdatasync(descriptor)

    @app.post("/webhooks/github")
    async def github(request: Request) -> Response:
        body = await request.body()
        if descriptor is not None:
            await run_in_threadpool(append, body)
        return Response(b'{"status":"accepted"}', status_code=202)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    print(f"ceiling: listening on http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(
        sockets=[listener]
    )


@contextmanager
def server(command: list[str], env: dict[str, str]) -> Any:
    """Start a server process; yield (host, port) from its "listening on" line."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"server did not start: {command}")
        host, port = line.rsplit("//", 1)[1].strip().split(":")
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()


@dataclass
class Run:
    """What one load run measured."""

    sent: int
    accepted: int
    failed: int
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.accepted / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def signed_bodies(count: int) -> list[tuple[bytes, str]]:
    """The example payload for `count` different pull requests, each with its signature."""
    payload = OctokitExamples(published_file(*WEBHOOK_EXAMPLES)).of("pull_request", "synchronize")[
        0
    ]
    bodies = []
    for number in range(1, count + 1):
        payload["number"] = payload["pull_request"]["number"] = number
        body = json.dumps(payload).encode()
        bodies.append((body, sign_github(SECRET, body)))
    return bodies


class Client:
    """A minimal keep-alive HTTP/1.1 client: one write per request, no client overhead."""

    def __init__(self, host: str, port: int, bodies: list[tuple[bytes, str]]) -> None:
        self.host, self.port, self.bodies = host, port, bodies
        self.sent = 0
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self) -> int:
        connection = self.idle.pop() if self.idle else await self._connect()
        reader, writer = connection
        body, signature = self.bodies[self.sent % len(self.bodies)]
        self.sent += 1
        head = (
            f"POST /webhooks/github HTTP/1.1\r\nHost: {self.host}\r\n"
            "Content-Type: application/json\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
            f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
            f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = 0
        for header in headers.split(b"\r\n"):
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append(connection)
        return int(status_line.split()[1])

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


async def load(
    host: str, port: int, bodies: list[tuple[bytes, str]], rate: float, seconds: float
) -> Run:
    """Send `rate` deliveries per second for `seconds`, on schedule, whatever the answers."""
    client = Client(host, port, bodies)
    limit = asyncio.Semaphore(CONNECTIONS)
    latencies: list[float] = []
    outcome = {"accepted": 0, "failed": 0}
    total = int(rate * seconds)
    start = time.perf_counter()

    async def one(due: float) -> None:
        async with limit:
            try:
                status = await client.post()
            except (OSError, asyncio.IncompleteReadError):
                status = 0
        latencies.append(time.perf_counter() - due)
        outcome["accepted" if status == 202 else "failed"] += 1

    tasks = []
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in client.idle:
        writer.close()
    return Run(total, outcome["accepted"], outcome["failed"], elapsed, latencies)


def measure(
    host: str, port: int, bodies: list[tuple[bytes, str]], rates: list[float], seconds: float
) -> list[Run]:
    asyncio.run(load(host, port, bodies, 50, 1.0))  # warm-up: connections, imports, caches
    return [asyncio.run(load(host, port, bodies, rate, seconds)) for rate in rates]


def bench_backend(
    name: str,
    url: str,
    rates: list[float],
    seconds: float,
    bodies: list[tuple[bytes, str]],
    state: Path,
) -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMOBOT_DATABASE_URL": url,
        "PROMOBOT_GITHUB_WEBHOOK_SECRET": SECRET,
        "PROMOBOT_TICK_SECONDS": "0",
    }
    ceiling = [sys.executable, __file__, "--serve-ceiling"]
    # Ingest only: the logging handler, so the figures measure the endpoint, not the workflows.
    promobot = [
        sys.executable,
        "-m",
        "bot.server",
        "--port",
        "0",
        "--log-level",
        "warning",
        "--handler",
        "bot.server.handlers:build_logging_handler",
    ]
    endpoints = {
        "ceiling": (ceiling, env),
        "disk": ([*ceiling, "--journal", str(state / f"{name}.journal")], env),
        "commit": (promobot, {**env, "PROMOBOT_ACK_AFTER": "commit"}),
        "flush": (promobot, {**env, "PROMOBOT_ACK_AFTER": "flush"}),
    }
    runs: dict[str, list[Run]] = {}
    for label, (command, environment) in endpoints.items():
        print(f"[{name}] {label} ...", file=sys.stderr, flush=True)
        with server(command, environment) as (host, port):
            runs[label] = measure(host, port, bodies, rates, seconds)
    rows = []
    for index, rate in enumerate(rates):
        top = runs["ceiling"][index].throughput
        for label, measured in runs.items():
            run = measured[index]
            rows.append(
                f"{name:<9} {rate:>6.0f} {label:<9} {run.accepted:>6}/{run.sent:<6} "
                f"{run.throughput:>9.1f} {run.percentile(0.5):>8.1f} {run.percentile(0.99):>8.1f}"
                + (f" {run.throughput / top:>8.2f}" if label != "ceiling" else "")
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[200.0, 800.0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve-ceiling", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--journal", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ceiling:
        serve_ceiling(args.journal)
        return
    bodies = signed_bodies(64)
    header = (
        f"{'database':<9} {'rate/s':>6} {'endpoint':<9} {'accepted/sent':>13} "
        f"{'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>8}"
    )
    rows = []
    with ExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        rows += bench_backend(
            "sqlite", f"sqlite:///{state / 'bench.db'}", args.rates, args.seconds, bodies, state
        )
        postgres = os.environ.get(URL_VARIABLE)
        if postgres:
            scoped = stack.enter_context(isolated_schema(postgres))
            rows += bench_backend("postgres", scoped, args.rates, args.seconds, bodies, state)
        else:
            print(f"postgres: skipped ({URL_VARIABLE} unset; run .ci/postgres.sh)", file=sys.stderr)
    size, load_average = len(bodies[0][0]), os.getloadavg()[0]
    print(f"payload {size} bytes, {os.cpu_count()} cores, load average {load_average:.1f}")
    print(header)
    print("\n".join(rows))
    print(
        "commit, flush = promobot answering once committed (default) / once on disk;"
        " disk = a bare endpoint answering once on disk"
    )
    print("ratio = deliveries/s ÷ the ceiling's; goal for promobot: ≥ 0.5, p99 < 50 ms at 200/s")


if __name__ == "__main__":
    main()
