"""The sandbox's durable state: ARM resources as JSON, long-running operations, pipeline runs.

Resources are kept in the shape the real service returns them, so the routes only
add and read a few fields. Everything is saved to `DIR/state.json` after each
change, so a restarted sandbox serves the same endpoints and models.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from promobot_sandbox.azure.config import SandboxAzureConfig

JsonDict = dict[str, Any]
Provisioner = Callable[[str, JsonDict], str | None]
"""Brings a deployment up: gets (endpoint, deployment resource), returns an error or None."""
Retirer = Callable[[str, str], None]
"""Forgets what serves a deployment: gets (endpoint, deployment)."""


class ArmError(Exception):
    """An error answered in ARM's format: `{"error": {"code": ..., "message": ...}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def utc_now() -> str:
    """ISO 8601 UTC timestamp with milliseconds, as ARM writes them."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _empty() -> JsonDict:
    return {
        "endpoints": {},
        "deployments": {},
        "keys": {},
        "models": {},
        "operations": {},
        "runs": {},
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
        text = json.dumps(self.data, indent=1, sort_keys=True)
        if text == self._saved:
            return
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self._path)
        self._saved = text

    # Long-running operations -------------------------------------------------

    def start_operation(self, kind: str, endpoint: str, deployment: str | None = None) -> JsonDict:
        """Record an operation that completes `operation_seconds` from now."""
        op: JsonDict = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "endpoint": endpoint,
            "deployment": deployment,
            "due": time.time() + self.config.operation_seconds,
            "status": "InProgress",
            "startTime": utc_now(),
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
        now = time.time()
        due = [
            op
            for op in self.data["operations"].values()
            if op["status"] == "InProgress" and op["due"] <= now
        ]
        for op in sorted(due, key=lambda o: o["due"]):
            error = self._finish(op)
            op["status"] = "Failed" if error else "Succeeded"
            op["endTime"] = utc_now()
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
        if kind == "delete-deployment":
            self.data["deployments"].get(endpoint, {}).pop(name, None)
            self.retirer(endpoint, name)
            return None
        if kind == "delete-endpoint":
            for deployment in self.data["deployments"].pop(endpoint, {}):
                self.retirer(endpoint, deployment)
            self.data["endpoints"].pop(endpoint, None)
            self.data["keys"].pop(endpoint, None)
            return None
        raise AssertionError(f"unknown operation kind {kind}")

    def _finish_provisioning(self, endpoint: str, name: str) -> tuple[str, str] | None:
        resource = self.data["deployments"].get(endpoint, {}).get(name)
        if resource is None:
            return ("NotFound", f"Deployment {name} was deleted while it was provisioning.")
        error = self.provisioner(endpoint, resource)
        resource["properties"]["provisioningState"] = "Failed" if error else "Succeeded"
        if error:
            return ("ResourceNotReady", error)
        return None

    # Pipeline runs -----------------------------------------------------------

    def next_run_id(self) -> int:
        """A fresh Azure DevOps run id, unique across pipelines."""
        run_id = int(self.data["next_run_id"])
        self.data["next_run_id"] = run_id + 1
        return run_id
