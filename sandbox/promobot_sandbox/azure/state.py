"""The sandbox's durable state: ARM resources as JSON, long-running operations, pipeline runs.

Resources are kept in the shape the real service returns them, so the routes only
add and read a few fields. Everything is saved to `DIR/state.json` after each
change, so a restarted sandbox serves the same endpoints and models.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from promobot_sandbox.azure.base import ArmError, JsonDict
from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.identity import SandboxIdentity
from promobot_sandbox.azure.seed import AzureSeed, SeedPatch, merged
from promobot_sandbox.azure.timing import SandboxClock

__all__ = ["ArmError", "JsonDict", "SandboxState"]

Provisioner = Callable[[str, JsonDict], tuple[str, str] | None]
"""Brings a deployment up: gets (endpoint, deployment resource), returns (code, message)
of the failed operation, or None."""
Retirer = Callable[[str, str], None]
"""Forgets what serves a deployment: gets (endpoint, deployment)."""


def _empty() -> JsonDict:
    return {
        "endpoints": {},
        "deployments": {},
        "keys": {},
        "models": {},
        "operations": {},
        "runs": {},
        "logs": {},
        "next_run_id": 1,
    }


class SandboxState:
    """All mutable state behind one re-entrant lock, persisted as JSON."""

    def __init__(self, config: SandboxAzureConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._path = config.data_dir / "state.json"
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.data: JsonDict = _empty()
        self._saved = ""
        if self._path.exists():
            self.data.update(json.loads(self._path.read_text(encoding="utf-8")))
        self.clock = SandboxClock(config.clock_factor, resume_at=float(self.data.get("clock", 0)))
        stored = AzureSeed.model_validate(self.data.get("seed") or {})
        self._seed = merged(stored, config.seed, self.clock.now())
        self.data["seed"] = self._seed.model_dump(mode="json")
        self._default_identity = SandboxIdentity(
            token=config.arm_token, name="sandbox-user", object_id=str(uuid.UUID(int=5))
        )
        self.provisioner: Provisioner = lambda _endpoint, _deployment: None
        self.retirer: Retirer = lambda _endpoint, _deployment: None

    @contextmanager
    def locked(self) -> Iterator[JsonDict]:
        """Hold the lock, finish due operations, and save whatever the caller changed."""
        with self._lock:
            self._complete_due_operations()
            yield self.data
            self._save()

    def _save(self) -> None:
        content = {k: v for k, v in self.data.items() if k != "clock"}
        text = json.dumps(content, indent=1, sort_keys=True)
        if text == self._saved:
            return
        self.data["clock"] = self.clock.now()  # a restart resumes sandbox time from here
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)
        self._saved = text

    # Seed ---------------------------------------------------------------------

    @property
    def seed(self) -> AzureSeed:
        """Identities, pipelines, quota, names taken in the region, no-code rules."""
        return self._seed

    def patch_seed(self, patch: SeedPatch) -> AzureSeed:
        """Apply `PATCH /_sandbox/seed`."""
        with self.locked() as data:
            self._seed = merged(self._seed, patch, self.clock.now())
            data["seed"] = self._seed.model_dump(mode="json")
            return self._seed

    def identities(self) -> list[SandboxIdentity]:
        """Everyone with a token: the seeded identities, then the config's `arm_token` (a
        Contributor) unless a seeded identity has the same token."""
        return [*self._seed.identities, self._default_identity]

    # Deployment logs ----------------------------------------------------------

    def set_logs(self, endpoint: str, deployment: str, lines: list[str]) -> None:
        """Record what a deployment's inference server printed."""
        self.data["logs"].setdefault(endpoint, {})[deployment] = "\n".join(lines)

    def logs(self, endpoint: str, deployment: str) -> str:
        """What a deployment's inference server printed."""
        return str(self.data["logs"].get(endpoint, {}).get(deployment, ""))

    # Long-running operations -------------------------------------------------

    def start_operation(
        self, kind: str, seconds: float, endpoint: str, deployment: str | None = None
    ) -> JsonDict:
        """Record an operation that completes `seconds` of sandbox time from now."""
        now = self.clock.now()
        op: JsonDict = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "endpoint": endpoint,
            "deployment": deployment,
            "due": now + seconds,
            "status": "InProgress",
            "startTime": self.clock.iso(now),
        }
        self.data["operations"][op["id"]] = op
        return op

    def operation(self, op_id: str) -> JsonDict:
        """The operation, after completing it when it is due."""
        op = self.data["operations"].get(op_id)
        if op is None:
            raise ArmError(404, "NotFound", f"Operation {op_id} was not found.")
        return dict(op)

    def _complete_due_operations(self) -> None:
        now = self.clock.now()
        due = [
            op
            for op in self.data["operations"].values()
            if op["status"] == "InProgress" and op["due"] <= now
        ]
        for op in sorted(due, key=lambda o: o["due"]):
            error = self._finish(op)
            op["status"] = "Failed" if error else "Succeeded"
            op["endTime"] = self.clock.iso(op["due"])
            if error:
                op["error"] = {"code": error[0], "message": error[1]}

    def _finish(self, op: JsonDict) -> tuple[str, str] | None:
        endpoint, name = op["endpoint"], op["deployment"]
        kind = op["kind"]
        if kind == "provision":
            return self._finish_provisioning(endpoint, name)
        if kind == "update-endpoint":
            resource = self.data["endpoints"].get(endpoint)
            if resource is not None:
                resource["properties"]["provisioningState"] = "Succeeded"
                resource["properties"]["traffic"] = dict(op.get("traffic") or {})
            return None
        if kind == "update-deployment":
            resource = self.data["deployments"].get(endpoint, {}).get(name)
            if resource is not None:
                resource["properties"]["provisioningState"] = "Succeeded"
            return None
        if kind == "delete-deployment":
            self.data["deployments"].get(endpoint, {}).pop(name, None)
            self.data["logs"].get(endpoint, {}).pop(name, None)
            self.retirer(endpoint, name)
            return None
        if kind == "delete-endpoint":
            for deployment in self.data["deployments"].pop(endpoint, {}):
                self.retirer(endpoint, deployment)
            for key in ("endpoints", "keys", "logs"):
                self.data[key].pop(endpoint, None)
            return None
        raise AssertionError(f"unknown operation kind {kind}")

    def _finish_provisioning(self, endpoint: str, name: str) -> tuple[str, str] | None:
        resource = self.data["deployments"].get(endpoint, {}).get(name)
        if resource is None:
            return ("NotFound", f"Deployment {name} was deleted while it was provisioning.")
        error = self.provisioner(endpoint, resource)
        resource["properties"]["provisioningState"] = "Failed" if error else "Succeeded"
        return error

    # Pipeline runs -----------------------------------------------------------

    def next_run_id(self) -> int:
        """A fresh Azure DevOps run id, unique across pipelines."""
        run_id = int(self.data["next_run_id"])
        self.data["next_run_id"] = run_id + 1
        return run_id
