"""Helpers for the scoring server tests: manifests and a bounded concurrent load."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from bot.domain.manifest import ModelManifest

SAFE_ROWS = [{"a": 0.4, "b": 1.0, "c": -1.0, "d": 0.0}, {"a": -0.7, "b": 0.0, "c": 0.5, "d": 2}]
"""Rows every test model answers."""

EDGE_ROW = {"a": 2.5, "b": 0.0, "c": 0.0, "d": 0.0}
"""A row the fragile model raises on (feature `a` above its limit)."""


def make_manifest(
    version: str, environment: str = "production", **deployment: Any
) -> ModelManifest:
    """A manifest for model `churn`; deployment fields by keyword."""
    return ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": "churn",
            "environment": environment,
            "version": version,
            "source": {"uri": f"models:/churn/{version}"},
            "deployment": {"endpoint": "churn", **deployment},
        }
    )


@dataclass(frozen=True)
class Outcome:
    """One prediction request as a client saw it."""

    status: int
    version: str | None
    error: str | None


class Traffic:
    """Client threads sending predictions over HTTP until stopped, at most `max_requests`."""

    def __init__(
        self,
        url: str,
        *,
        threads: int = 4,
        max_requests: int = 20_000,
        payloads: list[Any] | None = None,
    ) -> None:
        self._url = url
        self._payloads = payloads or [{"records": [row]} for row in SAFE_ROWS]
        self._max = max_requests
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._outcomes: list[Outcome] = []
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sending and wait for the clients."""
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Block until `count` more answers than now have arrived."""
        with self._changed:
            goal = len(self._outcomes) + count
            if not self._changed.wait_for(lambda: len(self._outcomes) >= goal, timeout):
                raise AssertionError(f"only {len(self._outcomes)} answers after {timeout} s")

    @property
    def outcomes(self) -> list[Outcome]:
        """Every answer so far."""
        with self._changed:
            return list(self._outcomes)

    def failures(self) -> list[Outcome]:
        """Answers that were not 200."""
        return [o for o in self.outcomes if o.status != 200]

    def versions(self) -> Counter[str | None]:
        """How many requests each version answered."""
        return Counter(o.version for o in self.outcomes if o.status == 200)

    def _run(self, offset: int) -> None:
        with httpx.Client(base_url=self._url, timeout=30) as http:
            sent = offset
            while not self._stop.is_set():
                payload = self._payloads[sent % len(self._payloads)]
                sent += 1
                outcome = _send(http, payload)
                with self._changed:
                    if len(self._outcomes) >= self._max:
                        return
                    self._outcomes.append(outcome)
                    self._changed.notify_all()


def _send(http: httpx.Client, payload: Any) -> Outcome:
    try:
        response = http.post("/v1/models/churn/predict", json=payload)
    except httpx.HTTPError as exc:
        return Outcome(status=0, version=None, error=repr(exc))
    if response.status_code == 200:
        return Outcome(status=200, version=response.json()["version"], error=None)
    return Outcome(status=response.status_code, version=None, error=response.text)
