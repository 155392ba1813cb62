"""From a delivery's raw bytes to a stored event: authenticate, parse, persist.

`decode_*` authenticate (always first, on the raw bytes) and parse; a refused delivery
is logged without its body. `accept` stores what was decoded and answers as soon as it
is committed (on disk too, with `ack_after = "flush"`): nothing here waits for the
workflows.

No delivery can make intake answer 5xx: an unexpected exception while authenticating is a
logged 401, while parsing a logged 400, and the answer never carries a traceback. Only an
event store that cannot take the event answers 503, so that the sender delivers it again.
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
from bot.webhooks.entra import EntraTokenCheck
from bot.webhooks.events import DomainEvent, event_to_payload
from bot.webhooks.github import decode_github_body, parse_github
from bot.webhooks.mlflow import mlflow_event_name, parse_mlflow
from bot.webhooks.payloads import PayloadError, decode_json
from bot.webhooks.signatures import (
    MAX_DELIVERY_ID_CHARS,
    check_github,
    check_mlflow,
    check_query_key,
)

logger = logging.getLogger(__name__)

MAX_EVENT_NAME_CHARS = 64
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
        self._entra = (
            None
            if settings.azure_entra_tenant_id is None or settings.azure_entra_audience is None
            else EntraTokenCheck(
                settings.azure_entra_tenant_id,
                settings.azure_entra_audience,
                settings.azure_entra_keys_url,
            )
        )
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
        if len(event_name) > MAX_EVENT_NAME_CHARS or not event_name.isascii():
            return self.malformed("github", UNKNOWN, "X-GitHub-Event is not an event name")
        try:
            payload = decode_github_body(body, headers.get("content-type"))
            event = parse_github(event_name, payload)
        except PayloadError as error:
            return self.malformed("github", event_name, str(error))
        except Exception as error:
            return self.unreadable("github", delivery_id, error)
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
        except Exception as error:
            return self.unreadable("mlflow", delivery_id, error)
        return [Delivery("mlflow", event_name, delivery_id, event)]

    def decode_azure(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Decoded:
        """`POST /webhooks/azure`: Event Grid with `?key=` or an Entra token, validation
        handshake included."""
        refused = self.authenticate_azure(headers, query)
        if refused is not None:
            return refused
        try:
            items = parse_event_grid(decode_json(body))
        except PayloadError as error:
            return self.malformed("azure", UNKNOWN, str(error))
        except Exception as error:
            return self.unreadable("azure", None, error)
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
        refused = [reply for reply in replies if reply.status >= 400]
        if refused:
            return refused[0]
        outcomes = [reply.body["status"] for reply in replies]
        status = 202 if "accepted" in outcomes or "ignored" in outcomes else 200
        return Reply(status, {"status": "ok", "events": outcomes})

    def authenticate_azure(
        self, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> Reply | None:
        """None when the delivery carries a valid Entra token or the right `?key=`, else 401.

        A bearer token is checked when Entra authentication is configured; otherwise,
        or without a token, the endpoint URL's `?key=` secret.
        """
        authorization = headers.get("authorization")
        entra = self._entra
        if entra is not None and (authorization or self._settings.azure_event_grid_key is None):
            return self._refusal(
                "azure", None, self._checked("azure", lambda: entra(authorization))
            )
        given = query.get("key")
        return self._authenticate(
            "azure",
            None,
            self._settings.azure_event_grid_key,
            "PROMOBOT_AZURE_EVENT_GRID_KEY (or PROMOBOT_AZURE_ENTRA_TENANT_ID and "
            "PROMOBOT_AZURE_ENTRA_AUDIENCE)",
            lambda key: check_query_key(key, given),
        )

    def too_large(self, source: str) -> Reply:
        """The 413 reply to a body over the limit."""
        self._metrics.record_delivery(source, UNKNOWN, DeliveryOutcome.TOO_LARGE)
        limit = self._settings.max_body_bytes
        logger.warning("%s delivery refused (413): body larger than %s bytes", source, limit)
        return Reply(413, {"error": f"body larger than {limit} bytes"})

    def malformed(self, source: str, event_name: str, message: str) -> Reply:
        """The 400 reply to an authenticated body promobot cannot read."""
        self._metrics.record_delivery(source, event_name, DeliveryOutcome.MALFORMED)
        logger.warning("%s delivery refused (400): %s", source, message)
        return Reply(400, {"error": message})

    def unreadable(self, source: str, delivery_id: str | None, error: BaseException) -> Reply:
        """The 400 reply to a request intake failed on unexpectedly: logged with its
        traceback, answered without it."""
        self._metrics.record_delivery(source, UNKNOWN, DeliveryOutcome.MALFORMED)
        logger.error(
            "%s delivery %s refused (400): intake failed with %s",
            source,
            _shown(delivery_id),
            type(error).__name__,
            exc_info=error,
        )
        return Reply(400, {"error": "the delivery could not be read"})

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
            value = secret.get_secret_value()
            reason = self._checked(source, lambda: check(value))
        return self._refusal(source, delivery_id, reason)

    @staticmethod
    def _checked(source: str, check: Callable[[], str | None]) -> str | None:
        """Why `check` refuses the delivery; an unexpected failure refuses it too."""
        try:
            return check()
        except Exception as error:
            logger.error("%s authentication failed", source, exc_info=error)
            return f"authentication failed with {type(error).__name__}"

    def _refusal(self, source: str, delivery_id: str | None, reason: str | None) -> Reply | None:
        """None when nothing refused the delivery, else the logged 401."""
        if reason is None:
            return None
        self._metrics.record_delivery(source, UNKNOWN, DeliveryOutcome.UNAUTHENTICATED)
        logger.warning("%s delivery %s refused (401): %s", source, _shown(delivery_id), reason)
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
        payload = event_to_payload(event)
        if "\x00" in delivery_id or _holds_nul((event.serialisation_key, payload)):
            return self.malformed(source, event_name, "a NUL character in the event")
        try:
            submitted = self._store.submit(
                delivery_id, source, event.kind, event.serialisation_key, payload
            )
            added = await asyncio.wrap_future(submitted)
        except Exception as error:
            logger.error(
                "%s delivery %s not stored (503): %s",
                source,
                _shown(delivery_id),
                type(error).__name__,
                exc_info=error,
            )
            return Reply(503, {"error": "the event store is unavailable; deliver again later"})
        if not added:
            self._metrics.record_delivery(source, event_name, DeliveryOutcome.DUPLICATE)
            return Reply(200, {"status": "duplicate", "delivery": delivery_id})
        self._metrics.record_delivery(source, event_name, DeliveryOutcome.ACCEPTED)
        self._on_added()
        return Reply(202, {"status": "accepted", "delivery": delivery_id, "kind": event.kind})


def _shown(delivery_id: str | None) -> str:
    """A delivery id for the log: quoted and cut, since the sender chose it."""
    return repr(delivery_id[:100]) if delivery_id else "-"


def _holds_nul(value: object) -> bool:
    """Whether a string in `value` (an event's JSON-ready data) holds a NUL character,
    which PostgreSQL's text columns refuse."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False
