"""Helpers for the CD tests: a real git repository of manifests, and a recording target."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bot.domain.manifest import Deployment, ModelManifest
from bot.domain.verification import HealthSample
from bot.errors import TargetError
from bot.targets.base import ApplyOutcome, Progress, ServingState

ALICE = ("Alice Smith", "alice@example.com")
BOB = ("Bob Jones", "bob@example.com")


def manifest_text(
    model: str,
    version: str,
    environment: str = "production",
    *,
    endpoint: str | None = None,
    uri: str | None = None,
    pull_request: int | None = None,
    metrics: dict[str, float] | None = None,
    champion: str | None = None,
    **deployment: Any,
) -> str:
    """A valid manifest as YAML; deployment fields (strategy, target, ...) by keyword."""
    document: dict[str, Any] = {
        "apiVersion": "promobot/v1",
        "kind": "ModelManifest",
        "model": model,
        "environment": environment,
        "version": str(version),
        "source": {"registry": "mlflow", "uri": uri or f"models:/{model}/{version}"},
        "metrics": metrics or {},
        "evaluation": {"champion_version": champion, "pull_request": pull_request},
        "deployment": {"target": "local", "endpoint": endpoint or model, **deployment},
    }
    return yaml.safe_dump(document, sort_keys=False)


class GitOpsRepo:
    """A real repository on disk, driven with the `git` command as a person would."""

    def __init__(self, path: Path, *, init: bool = True) -> None:
        self.path = path
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "--quiet", "--initial-branch", "main")

    def git(self, *args: str, author: tuple[str, str] = ALICE) -> str:
        """Run git in the repository as `author`; its output."""
        name, email = author
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def write(self, path: str, text: str) -> None:
        """Write a file of the working tree."""
        target = self.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def write_manifest(
        self, model: str, version: str, environment: str = "production", **kw: Any
    ) -> str:
        """Write `model-manifests/<environment>/<model>.yaml`; its path."""
        path = f"model-manifests/{environment}/{model}.yaml"
        self.write(path, manifest_text(model, version, environment, **kw))
        return path

    def remove(self, path: str) -> None:
        """Delete a file from the working tree and the index."""
        self.git("rm", "--quiet", path)

    def commit(self, message: str, author: tuple[str, str] = ALICE) -> str:
        """Commit everything in the working tree; the new SHA."""
        self.git("add", "--all", author=author)
        self.git("commit", "--quiet", "-m", message, author=author)
        return self.head()

    def revert(self, sha: str, author: tuple[str, str] = BOB) -> str:
        """`git revert` a commit, as a person rolling back does; the revert commit's SHA."""
        self.git("revert", "--no-edit", sha, author=author)
        return self.head()

    def head(self) -> str:
        """SHA of HEAD."""
        return self.git("rev-parse", "HEAD")


class RecordingTarget:
    """An in-memory `Target` for workflow unit tests: it counts calls and can be told to fail."""

    def __init__(self, failing: dict[str, str] | None = None) -> None:
        self.serving: dict[tuple[str, str], str] = {}
        self.calls: Counter[str] = Counter()
        self.applied: list[tuple[str, str, str]] = []
        self.failing = dict(failing or {})
        self.errors: dict[str, tuple[int, int]] = {}
        """model -> (requests, errors) its serving version reports as health."""

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        self.calls["apply"] += 1
        key = (manifest.model, manifest.environment)
        if manifest.model in self.failing:
            raise TargetError(self.failing[manifest.model], hint="fix the model")
        changed = self.serving.get(key) != manifest.version
        self.serving[key] = manifest.version
        if changed:
            self.applied.append((manifest.model, manifest.environment, manifest.version))
        progress(f"{manifest.model} {manifest.version} serves")
        state = self._state(manifest.model, manifest.environment, manifest.deployment)
        return ApplyOutcome(changed=changed, state=state, detail=f"{manifest.version} serves")

    def state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        self.calls["state"] += 1
        return self._state(model, environment, deployment)

    def health(self, model: str, environment: str, deployment: Deployment) -> list[HealthSample]:
        del deployment
        self.calls["health"] += 1
        version = self.serving.get((model, environment))
        requests, errors = self.errors.get(model, (0, 0))
        if version is None:
            return []
        return [HealthSample(version=version, requests=requests, errors=errors)]

    def _state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        version = self.serving.get((model, environment))
        traffic = {} if version is None else {version: 100}
        return ServingState(
            model=model, environment=environment, endpoint=deployment.endpoint, traffic=traffic
        )


class RecordingRegistry:
    """Collects alias moves (for workflow unit tests; the MLflow one is tested for real)."""

    def __init__(self) -> None:
        self.aliases: dict[tuple[str, str], str] = {}

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self.aliases[(model, alias)] = version
