"""Requests failed during a blue/green switch under a steady open-loop load.

Starts `promobot serve-models` as a separate process on a free loopback port,
registers two real scikit-learn models in a SQLite-backed MLflow, deploys the
first with `LocalTarget`, then sends prediction requests at a fixed rate
(open loop: a request leaves at its scheduled time whether or not earlier ones
have answered) while `LocalTarget` switches to the second version (a fresh load,
smoke test and switch) and back again (a rollback to the still-loaded version).

Prints failures during the switches (goal: 0) and latency during the switches
beside the steady state. Latency counts from the scheduled send time, so a
stalled server cannot hide its queueing.

    .venv/bin/python benchmarks/switch.py [--rate 200] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from bot.domain.manifest import ModelManifest
from bot.evaluation.models import HIST_GRADIENT_BOOSTING_TYPES
from bot.targets.local import LocalTarget

ROW = {"a": 0.4, "b": -1.0, "c": 0.3, "d": 1.2}
CONNECTIONS = 64


@dataclass(frozen=True)
class Sample:
    """One request: when it was due, how long until its answer, and how it ended."""

    due: float
    latency: float
    ok: bool


@dataclass
class Switch:
    """One `LocalTarget.apply` during the load."""

    label: str
    start: float = 0.0
    end: float = 0.0
    detail: str = ""


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the figures."""
    print(f"[switch] {message}", file=sys.stderr, flush=True)


def register_models(root: Path) -> str:
    """A logistic regression (v1) and a gradient-boosting model (v2) of `churn`; tracking URI."""
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.MlflowClient().create_experiment(
        "switch", artifact_location=(root / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment)
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(2000, 4)), columns=list("abcd"))
    labels = (features["a"] - features["c"] > 0).astype("float64")
    example = features.head(3)
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
    for model, extra in (
        (LogisticRegression().fit(features, labels), {}),
        (
            HistGradientBoostingClassifier().fit(features, labels),
            {"skops_trusted_types": list(HIST_GRADIENT_BOOSTING_TYPES)},
        ),
    ):
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=example,
                registered_model_name="churn",
                pip_requirements=["scikit-learn"],
                **extra,
            )
    return tracking_uri


def start_server(state: Path, tracking_uri: str) -> tuple[subprocess.Popen[str], str]:
    """`promobot serve-models --port 0` in its own process; the process and its URL."""
    command = [sys.executable, "-c", "from bot.cli.main import app; app()", "serve-models"]
    process = subprocess.Popen(
        [*command, "--port", "0", "--state", str(state), "--tracking-uri", tracking_uri],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on " not in line:
        process.kill()
        raise SystemExit(f"the scoring server did not start: {line!r}")
    return process, line.split("listening on ")[1].split()[0]


def manifest(version: str) -> ModelManifest:
    """Blue/green manifest of `churn` in production."""
    return ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": "churn",
            "environment": "production",
            "version": version,
            "source": {"uri": f"models:/churn/{version}"},
            "deployment": {"endpoint": "churn", "strategy": "blue-green"},
        }
    )


def request_bytes(host: str) -> bytes:
    """One keep-alive prediction request, built once."""
    body = json.dumps({"records": [ROW]}).encode()
    head = (
        f"POST /v1/models/churn/predict HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bool:
    """Send one request on a kept-alive connection; True on a 200 answer."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status == 200


async def connection(
    address: tuple[str, int], queue: asyncio.Queue[float | None], samples: list[Sample]
) -> None:
    """One client connection taking due requests from the queue until it gets None."""
    request = request_bytes(f"{address[0]}:{address[1]}")
    reader, writer = await asyncio.open_connection(*address)
    while (due := await queue.get()) is not None:
        try:
            ok = await exchange(reader, writer, request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            writer.close()
            reader, writer = await asyncio.open_connection(*address)
        samples.append(Sample(due=due, latency=time.perf_counter() - due, ok=ok))
    writer.close()


async def open_loop(url: str, rate: float, duration: float, start: float) -> list[Sample]:
    """Requests due at `rate` per second from `start` for `duration` seconds.

    A lean HTTP/1.1 client on kept-alive connections, so the generator costs far
    less CPU than the server it measures; a request waiting for a free
    connection is already late, and its latency counts from when it was due.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    samples: list[Sample] = []
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    workers = [asyncio.create_task(connection(address, queue, samples)) for _ in range(CONNECTIONS)]
    for i in range(int(rate * duration)):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        queue.put_nowait(due)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return samples


def run_switches(target: LocalTarget, switches: list[tuple[float, Switch, str]]) -> None:
    """Apply each manifest at its time (perf_counter), recording when it ran."""
    for when, switch, version in switches:
        time.sleep(max(0.0, when - time.perf_counter()))
        switch.start = time.perf_counter()
        outcome = target.apply(manifest(version), lambda _line: None)
        switch.end = time.perf_counter()
        switch.detail = outcome.detail


def summarise(label: str, chosen: list[Sample]) -> str:
    """One table row: requests, failures, p50 and p99 latency."""
    if not chosen:
        return f"{label:<26} {0:>8} {'-':>8} {'-':>9} {'-':>9}"
    latencies = np.array([s.latency for s in chosen]) * 1000
    failures = sum(not s.ok for s in chosen)
    p50, p99 = np.percentile(latencies, [50, 99])
    return f"{label:<26} {len(chosen):>8} {failures:>8} {p50:>8.1f} {p99:>8.1f}"


def p99(chosen: list[Sample]) -> float:
    """99th percentile latency in ms."""
    return float(np.percentile([s.latency * 1000 for s in chosen], 99)) if chosen else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--settle", type=float, default=0.25, help="seconds after a switch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="promobot-switch-") as tmp:
        root = Path(tmp)
        log("registering two scikit-learn models in a SQLite MLflow")
        tracking_uri = register_models(root)
        log("starting `promobot serve-models` in its own process")
        process, url = start_server(root / "state", tracking_uri)
        try:
            target = LocalTarget(url, tracking_uri)
            log(f"deploying version 1 on {url}")
            target.apply(manifest("1"), lambda _line: None)
            for _ in range(200):
                httpx.post(f"{url}/v1/models/churn/predict", json={"records": [ROW]})
            start = time.perf_counter() + 0.5
            plan = [
                (start + 0.3 * args.duration, Switch("1 -> 2 (load + switch)"), "2"),
                (start + 0.65 * args.duration, Switch("2 -> 1 (rollback)"), "1"),
            ]
            worker = threading.Thread(target=run_switches, args=(target, plan))
            log(f"open-loop load: {args.rate:.0f} requests/s for {args.duration:.0f} s")
            worker.start()
            samples = asyncio.run(open_loop(url, args.rate, args.duration, start))
            worker.join()
            target.close()
        finally:
            process.terminate()
            process.wait(30)
    report(samples, [switch for _, switch, _ in plan], args)


def report(samples: list[Sample], switches: list[Switch], args: argparse.Namespace) -> None:
    """Print the table, the ratios and the headline figure."""

    def during(switch: Switch, sample: Sample) -> bool:
        return switch.start <= sample.due <= switch.end + args.settle

    windows = {s.label: [x for x in samples if during(s, x)] for s in switches}
    in_any = {id(x) for chosen in windows.values() for x in chosen}
    steady = [x for x in samples if id(x) not in in_any]
    all_switch = [x for chosen in windows.values() for x in chosen]
    elapsed = max(s.due for s in samples) - min(s.due for s in samples)
    print(f"load: {len(samples)} requests at {len(samples) / elapsed:.0f}/s (open loop, loopback)")
    for switch in switches:
        print(f"switch {switch.label}: {1000 * (switch.end - switch.start):.0f} ms")
    print(f"{'phase':<26} {'requests':>8} {'failed':>8} {'p50 ms':>9} {'p99 ms':>9}")
    print(summarise("steady state", steady))
    for label, chosen in windows.items():
        print(summarise(f"during {label}", chosen))
    print(summarise("during any switch", all_switch))
    failed_switch = sum(not x.ok for x in all_switch)
    print(f"p99 during switch / steady p99: {p99(all_switch) / p99(steady):.2f}")
    print(f"failed overall: {sum(not x.ok for x in samples)}")
    print(f"failed_during_switch={failed_switch}")


if __name__ == "__main__":
    main()
