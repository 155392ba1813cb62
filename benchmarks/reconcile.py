"""Cost of `promobot apply` with one changed manifest: a repository of 1,000 manifests against 1.

Builds two real git repositories (1 and 1,000 manifests across three
environments), applies each once so the last-applied marker exists, then, for
several rounds, commits one changed manifest and times the library call
`apply_changes` in this process: opening the repository, reading the marker,
diffing the two commits, reading and validating the changed manifest, applying
it, moving the alias and writing the marker.

The target is a recording target (it remembers what serves in memory): the
benchmark measures reconcile cost, which is what grows with the repository;
a real target's deployment time is the same in both repositories. Goal: ratio <= 2.

    .venv/bin/python benchmarks/reconcile.py [--manifests 1000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bot.domain.manifest import Deployment, ModelManifest
from bot.domain.verification import HealthSample
from bot.gitrepo import GitRepo
from bot.targets.base import ApplyOutcome, Progress, ServingState
from bot.workflows.apply import apply_changes

ENVIRONMENTS = ("production", "staging", "canary")


class RecordingTarget:
    """A `Target` that serves in memory and counts its calls."""

    def __init__(self) -> None:
        self.serving: dict[tuple[str, str], str] = {}
        self.applies = 0

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        del progress
        self.applies += 1
        key = (manifest.model, manifest.environment)
        changed = self.serving.get(key) != manifest.version
        self.serving[key] = manifest.version
        state = self.state(manifest.model, manifest.environment, manifest.deployment)
        return ApplyOutcome(changed=changed, state=state, detail=f"{manifest.version} serves")

    def state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        version = self.serving.get((model, environment))
        traffic = {version: 100} if version else {}
        return ServingState(
            model=model, environment=environment, endpoint=deployment.endpoint, traffic=traffic
        )

    def health(self, model: str, environment: str, deployment: Deployment) -> list[HealthSample]:
        del model, environment, deployment
        return []


class RecordingRegistry:
    """Remembers aliases, as the MLflow registry would."""

    def __init__(self) -> None:
        self.aliases: dict[tuple[str, str], str] = {}

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self.aliases[(model, alias)] = version


def manifest_yaml(model: str, environment: str, version: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": model,
            "environment": environment,
            "version": str(version),
            "source": {"registry": "mlflow", "uri": f"models:/{model}/{version}"},
            "metrics": {"f1": 0.8 + version / 1000, "accuracy": 0.9},
            "evaluation": {"champion_version": str(version - 1) if version > 1 else None},
            "deployment": {"target": "local", "endpoint": model, "strategy": "blue-green"},
        },
        sort_keys=False,
    )


def git(path: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)


def build_repository(path: Path, count: int) -> list[Path]:
    """A repository with `count` manifests in one commit; their paths."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch", "main")
    files = []
    for index in range(count):
        environment = ENVIRONMENTS[index % len(ENVIRONMENTS)]
        model = f"model-{index:04d}"
        file = path / "model-manifests" / environment / f"{model}.yaml"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(manifest_yaml(model, environment, 1))
        files.append(file)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", f"{count} manifests")
    return files


def timed_apply(path: Path, target: RecordingTarget, registry: RecordingRegistry) -> float:
    start = time.perf_counter()
    with GitRepo(path) as repo:
        report = apply_changes(
            repo,
            lambda _d: target,
            registries=lambda _kind: registry,  # type: ignore[arg-type,return-value]
        )
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"apply failed: {report.failures}")
    return elapsed


def measure(root: Path, count: int, rounds: int) -> tuple[float, float, int]:
    """(seconds of the first, full apply; median seconds with one change; target calls then)."""
    path = root / f"repo-{count}"
    files = build_repository(path, count)
    target, registry = RecordingTarget(), RecordingRegistry()
    first = timed_apply(path, target, registry)
    changed = files[len(files) // 2]
    model, environment = changed.stem, changed.parent.name
    times = []
    target.applies = 0
    for version in range(2, rounds + 2):
        changed.write_text(manifest_yaml(model, environment, version))
        git(path, "commit", "--quiet", "-am", f"Promote {model} to {version} (#{version})")
        times.append(timed_apply(path, target, registry))
        if target.serving[(model, environment)] != str(version):
            raise SystemExit("the changed manifest was not applied")
    return first, statistics.median(times), target.applies // rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--manifests", type=int, default=1000, help="Size of the large repository.")
    parser.add_argument("--rounds", type=int, default=15, help="Changed commits timed per size.")
    options = parser.parse_args()
    print("target: in-memory recording target (measures reconcile cost, not deployment time)")
    with tempfile.TemporaryDirectory(prefix="promobot-reconcile-") as tmp:
        root = Path(tmp)
        timed_apply_warmup(root)
        results = {n: measure(root, n, options.rounds) for n in (1, options.manifests)}
    for count, (first, median, calls) in results.items():
        print(
            f"manifests={count:>5}  first full apply {first * 1000:8.1f} ms   "
            f"one changed manifest: median {median * 1000:6.1f} ms over {options.rounds} rounds, "
            f"{calls} target call(s)"
        )
    small, large = results[1][1], results[options.manifests][1]
    ratio = large / small
    print(f"ratio (1 changed of {options.manifests} / 1 changed of 1) = {ratio:.2f}  (goal <= 2)")
    print(f"reconcile_ratio={ratio:.2f}  at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")


def timed_apply_warmup(root: Path) -> None:
    """Import and first-call costs are paid once, before anything is timed."""
    path = root / "warmup"
    build_repository(path, 3)
    timed_apply(path, RecordingTarget(), RecordingRegistry())


if __name__ == "__main__":
    main()
