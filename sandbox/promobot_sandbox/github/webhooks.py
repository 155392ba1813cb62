"""Webhook deliveries: signed like GitHub's, sent from a background thread, logged.

`emit` records a delivery per subscribed hook and queues it; a worker thread POSTs it,
so an API response never waits on a receiver. Deliveries left pending by a stop are
sent after the next start. Redelivery creates a new attempt with the same GUID.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import queue
import ssl
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from promobot_sandbox.github.core import now
from promobot_sandbox.github.store import Record, Store

if TYPE_CHECKING:
    from promobot_sandbox.github.sandbox import Checks

USER_AGENT = "GitHub-Hookshot/sandbox"
_STOP = -1


def signature_256(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`: HMAC-SHA256 of the raw body with the hook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_subscribed(hook: Record, event: str) -> bool:
    events = hook.get("events", ["push"])
    return bool(hook.get("active", True)) and ("*" in events or event in events)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every sandbox's deliveries: building one reads the CA bundle,
    about 20 ms of CPU, and a test run starts hundreds of sandboxes."""
    return httpx.create_ssl_context()


class Dispatcher:
    """Records and sends deliveries; one worker thread, started lazily."""

    def __init__(self, store: Store, checks: Checks) -> None:
        self._store = store
        self._checks = checks
        self._queue: queue.Queue[int] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=10.0, verify=_tls())
        self._thread_lock = threading.Lock()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._stopping = threading.Event()
        for delivery in store.find("delivery"):
            if delivery["status"] == "pending":
                self._enqueue(delivery["id"])

    def emit(self, event: str, targets: list[tuple[Record, dict[str, Any]]]) -> list[int]:
        """Record and queue one delivery per (hook, payload); every distinct payload is
        checked against octokit's schemas when checks are on."""
        checked: list[dict[str, Any]] = []
        for _, payload in targets:
            if payload not in checked:
                checked.append(payload)
                self.check(event, payload)
        ids = []
        for hook, payload in targets:
            delivery = self._store.insert(
                "delivery",
                {
                    "guid": str(uuid.uuid4()),
                    "hook_id": hook["id"],
                    "event": event,
                    "action": payload.get("action"),
                    "payload": payload,
                    "redelivery": False,
                    "status": "pending",
                    "status_code": 0,
                    "delivered_at": now(),
                    "duration": 0.0,
                    "url": hook["url"],
                    "repository_id": (payload.get("repository") or {}).get("id"),
                    "installation_id": (payload.get("installation") or {}).get("id"),
                },
                scope=str(hook["id"]),
            )
            ids.append(delivery["id"])
            self._enqueue(delivery["id"])
        return ids

    def check(self, event: str, payload: dict[str, Any]) -> None:
        if self._checks.payload is not None:
            self._checks.checked_payloads += 1
            self._checks.problems.extend(self._checks.payload(event, payload))

    def redeliver(self, delivery: Record) -> Record:
        copy = {
            key: value
            for key, value in delivery.items()
            if key not in ("id", "request", "response")
        }
        copy.update(redelivery=True, status="pending", status_code=0, delivered_at=now())
        attempt = self._store.insert("delivery", copy, scope=str(delivery["hook_id"]))
        self._enqueue(attempt["id"])
        return attempt

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued delivery has been attempted (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self) -> None:
        """Finish the delivery under way and send no other: those still queued stay
        `pending` in the store, and the next start sends them."""
        self._stopping.set()
        with self._thread_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=15)
        self._client.close()

    def _enqueue(self, delivery_id: int) -> None:
        with self._idle:
            self._in_flight += 1
        with self._thread_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="sandbox-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(delivery_id)

    def _work(self) -> None:
        while True:
            delivery_id = self._queue.get()
            if delivery_id == _STOP or self._stopping.is_set():
                with self._idle:
                    self._in_flight = 0  # what is left stays pending for the next start
                    self._idle.notify_all()
                return
            try:
                self._send(delivery_id)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def _send(self, delivery_id: int) -> None:
        delivery = self._store.get("delivery", delivery_id)
        hook = None if delivery is None else self._store.get("hook", delivery["hook_id"])
        if delivery is None or hook is None:
            return
        body, headers = _request(hook, delivery)
        started = time.monotonic()
        try:
            response = self._client.post(hook["url"], content=body, headers=headers)
            status_code, response_headers, response_body = (
                response.status_code,
                dict(response.headers),
                response.text[:10_000],
            )
        except httpx.HTTPError as error:
            status_code, response_headers, response_body = 0, {}, f"delivery failed: {error}"
        delivery.update(
            status="OK"
            if 200 <= status_code < 300
            else ("failed" if status_code == 0 else "Invalid HTTP Response"),
            status_code=status_code,
            duration=round(time.monotonic() - started, 3),
            request={"headers": headers, "payload": delivery["payload"]},
            response={"headers": response_headers, "payload": response_body},
        )
        self._store.update("delivery", delivery)


def _request(hook: Record, delivery: Record) -> tuple[bytes, dict[str, str]]:
    payload_json = json.dumps(delivery["payload"])
    if hook.get("content_type", "json") == "form":
        body = urlencode({"payload": payload_json}).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body = payload_json.encode()
        content_type = "application/json"
    headers = {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": delivery["event"],
        "X-GitHub-Delivery": delivery["guid"],
        "X-GitHub-Hook-ID": str(hook["id"]),
    }
    if hook.get("app_id") is not None:
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(hook["app_id"])
        headers["X-GitHub-Hook-Installation-Target-Type"] = "integration"
    else:
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(delivery.get("repository_id") or "")
        headers["X-GitHub-Hook-Installation-Target-Type"] = "repository"
    secret = hook.get("secret")
    if secret:
        headers["X-Hub-Signature-256"] = signature_256(secret, body)
        headers["X-Hub-Signature"] = (
            "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        )
    return body, headers
