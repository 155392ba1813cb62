"""From a delivery's raw bytes to a stored event: authenticate, parse, persist.

`decode_*` authenticate (always first, on the raw bytes) and parse; a refused delivery
is logged without its body. `accept` stores what was decoded and answers as soon as it
is committed (on disk too, with `ack_after = "flush"`): nothing here waits for the
workflows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from bot.server.metrics import DeliveryOutcome, ServiceMetrics
from bot.server.settings import ServiceSettings
from bot.store.base import EventStore
from bot.webhooks.azure import parse_event_grid
from bot.webhooks.events import DomainEvent, event_to_payload
from bot.webhooks.github import decode_github_body, parse_github
from bot.webhooks.mlflow import mlflow_event_name, parse_mlflow
from bot.webhooks.payloads import PayloadError, decode_json
from bot.webhooks.signatures import check_github, check_mlflow, check_shared_key

logger = logging.getLogger(__name__)

MAX_DELIVERY_ID_CHARS = 200
UNKNOWN = "-"


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to a delivery."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One authenticated, parsed event of a delivery; `event` None: promobot ignores it."""

    source: str
    event_name: str
    delivery_id: str | None
    event: DomainEvent | None


Decoded = Reply | list[Delivery]
"""Either the answer already (refused, malformed, handshake) or what to store."""


class Ingest:
    """The three webhook endpoints, independent of the web framework."""

    def __init__(
        self,
        settings: ServiceSettings,
        store: EventStore,
        metrics: ServiceMetrics,
        on_added: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._on_added = on_added
        self._clock = clock

    def decode_github(self, headers: Mapping[str, str], body: bytes) -> Decoded:
        """`POST /webhooks/github`: `X-Hub-Signature-256` over the raw body."""
        delivery_id = headers.get("x-github-delivery")
        refused = self._authenticate(
            "github",
            delivery_id,
            self._settings.github_webhook_secret,
            "PROMOBOT_GITHUB_WEBHOOK_SECRET",
            lambda secret: check_github(secret, body, headers.get("x-hub-signature-256")),
        )
        if refused is not None:
            return refused
        event_name = headers.get("x-github-event")
        if not event_name:
            return self.malformed("github", UNKNOWN, "missing X-GitHub-Event header")
        try:
            payload = decode_github_body(body, headers.get("content-type"))
            event = parse_github(event_name, payload)
        except PayloadError as error:
            return self.malformed("github", event_name, str(error))
        return [Delivery("github", event_name, delivery_id, event)]

    def decode_mlflow(self, headers: Mapping[str, str], body: bytes) -> Decoded:
        """`POST /webhooks/mlflow`: `X-MLflow-Signature` over id, timestamp and body."""
        delivery_id = headers.get("x-mlflow-delivery-id")
        refused = self._authenticate(
            "mlflow",
            delivery_id,
            self._settings.mlflow_webhook_secret,
            "PROMOBOT_MLFLOW_WEBHOOK_SECRET",
            lambda secret: check_mlflow(
                secret,
                body,
                delivery_id=delivery_id,
                timestamp=headers.get("x-mlflow-timestamp"),
                header=headers.get("x-mlflow-signature"),
                now=self._clock(),
                tolerance_seconds=self._settings.mlflow_tolerance_seconds,
            ),
        )
        if refused is not None:
            return refused
        try:
            payload = decode_json(body)
            event_name = mlflow_event_name(payload)
            event = parse_mlflow(payload)
        except PayloadError as error:
            return self.malformed("mlflow", UNKNOWN, str(error))
        return [Delivery("mlflow", event_name, delivery_id, event)]

    def decode_azure(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Decoded:
        """`POST /webhooks/azure`: Event Grid with a shared key, validation handshake included."""
        refused = self.authenticate_azure(headers, query)
        if refused is not None:
            return refused
        try:
            items = parse_event_grid(decode_json(body))
        except PayloadError as error:
            return self.malformed("azure", UNKNOWN, str(error))
        for item in items:
            if item.validation_code is not None:
                self._metrics.record_delivery("azure", item.event_type, DeliveryOutcome.VALIDATED)
                logger.info("Event Grid subscription validated (event %s)", item.event_id[:100])
                return Reply(200, {"validationResponse": item.validation_code})
        return [Delivery("azure", i.event_type, i.event_id, i.event) for i in items]

    async def accept(self, deliveries: list[Delivery]) -> Reply:
        """Store the decoded events; 202 when something new was accepted or ignored.

        Event Grid batches (source `azure`) get one status per event in `events`.
        """
        replies = [await self._accept_one(delivery) for delivery in deliveries]
        if len(replies) == 1 and deliveries[0].source != "azure":
            return replies[0]
        if any(reply.status == 400 for reply in replies):
            return next(reply for reply in replies if reply.status == 400)
        outcomes = [reply.body["status"] for reply in replies]
        status = 202 if "accepted" in outcomes or "ignored" in outcomes else 200
        return Reply(status, {"status": "ok", "events": outcomes})

    def authenticate_azure(
        self, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> Reply | None:
        """None when the shared key (`aeg-sas-key` header or `?key=`) is right, else 401."""
        given = headers.get("aeg-sas-key") or query.get("key")
        return self._authenticate(
            "azure",
            None,
            self._settings.azure_shared_key,
            "PROMOBOT_AZURE_SHARED_KEY",
            lambda key: check_shared_key(key, given),
        )

    def too_large(self, source: str) -> Reply:
        """The 413 reply to a body over the limit."""
        self._metrics.record_delivery(source, UNKNOWN, DeliveryOutcome.TOO_LARGE)
        limit = self._settings.max_body_bytes
        return Reply(413, {"error": f"body larger than {limit} bytes"})

    def malformed(self, source: str, event_name: str, message: str) -> Reply:
        """The 400 reply to an authenticated body promobot cannot read."""
        self._metrics.record_delivery(source, event_name, DeliveryOutcome.MALFORMED)
        logger.warning("%s delivery refused (400): %s", source, message)
        return Reply(400, {"error": message})

    def _authenticate(
        self,
        source: str,
        delivery_id: str | None,
        secret: SecretStr | None,
        variable: str,
        check: Callable[[str], str | None],
    ) -> Reply | None:
        reason: str | None = f"no {source} secret is configured: set {variable}"
        if secret is not None:
            reason = check(secret.get_secret_value())
        if reason is None:
            return None
        self._metrics.record_delivery(source, UNKNOWN, DeliveryOutcome.UNAUTHENTICATED)
        shown = repr(delivery_id[:100]) if delivery_id else "-"
        logger.warning("%s delivery %s refused (401): %s", source, shown, reason)
        return Reply(401, {"error": "unauthenticated"})

    async def _accept_one(self, delivery: Delivery) -> Reply:
        source, event_name, delivery_id, event = (
            delivery.source,
            delivery.event_name,
            delivery.delivery_id,
            delivery.event,
        )
        if event is None:
            self._metrics.record_delivery(source, event_name, DeliveryOutcome.IGNORED)
            return Reply(202, {"status": "ignored", "event": event_name})
        if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID_CHARS:
            return self.malformed(source, event_name, "missing or overlong delivery id")
        submitted = self._store.submit(
            delivery_id, source, event.kind, event.serialisation_key, event_to_payload(event)
        )
        if not await asyncio.wrap_future(submitted):
            self._metrics.record_delivery(source, event_name, DeliveryOutcome.DUPLICATE)
            return Reply(200, {"status": "duplicate", "delivery": delivery_id})
        self._metrics.record_delivery(source, event_name, DeliveryOutcome.ACCEPTED)
        self._on_added()
        return Reply(202, {"status": "accepted", "delivery": delivery_id, "kind": event.kind})
