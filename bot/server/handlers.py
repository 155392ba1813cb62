"""The seam between the service and the workflows: the event handler.

A worker claims a stored event and calls `handler(event)`. Returning means done; raising
means the attempt failed: the error is logged with the delivery id and the event is
retried with backoff, then parked (`promobot events list --state parked`). Handlers must
be idempotent: after a crash the same event may be handled again.

The event itself is `bot.webhooks.events.event_from_payload(stored.payload)`: one of the
domain events (`ModelVersionCreated`, `PullRequestChanged`, ..., `Tick`); `stored.kind`
names it, `stored.delivery_id` and `stored.attempts` help logging and bug reports.

`promobot serve` builds its handler with a factory named by `--handler module:function`,
defaulting to `DEFAULT_HANDLER_FACTORY`. The workflows plug in by pointing that constant
at their own factory (or by passing `--handler`); the factory gets a `ServiceContext`, so
the handler can reach the decisions table, the state table and the metrics.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import UserInputError
from bot.server.metrics import ServiceMetrics
from bot.settings import Settings
from bot.store.base import ServiceStore, StoredEvent

logger = logging.getLogger(__name__)

Handler = Callable[[StoredEvent], None]
"""Processes one claimed event; raises to have it retried."""


class ParkEvent(Exception):
    """Raised by a handler to park its event at once, without retries; the message says why."""


@dataclass(frozen=True)
class ServiceContext:
    """What a handler factory may use."""

    settings: Settings
    store: ServiceStore
    metrics: ServiceMetrics


HandlerFactory = Callable[[ServiceContext], Handler]
"""Builds the handler once, when the service starts."""

DEFAULT_HANDLER_FACTORY = "bot.app:build_handler"
"""What `promobot serve` runs without `--handler`: events → propose, gate, commands, CD."""

LOGGING_HANDLER_FACTORY = "bot.server.handlers:build_logging_handler"
"""A handler that only logs: the service without any workflow (for trying the endpoints)."""


def build_logging_handler(context: ServiceContext) -> Handler:
    """A handler that only logs each event: the service before any workflow is connected."""
    del context

    def handle(event: StoredEvent) -> None:
        logger.info(
            "event %s (%s from %s, delivery %s, key %s): no workflow connected",
            event.id,
            event.kind,
            event.source,
            event.delivery_id,
            event.key,
        )

    return handle


def load_handler_factory(spec: str) -> HandlerFactory:
    """The factory named `module:function`, or a `UserInputError` saying what is wrong."""
    module_name, _, attribute = spec.partition(":")
    hint = "give the handler factory as module:function, e.g. " + DEFAULT_HANDLER_FACTORY
    if not module_name or not attribute:
        raise UserInputError(f"handler {spec!r} is not of the form module:function", hint=hint)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserInputError(
            f"handler module {module_name!r} cannot be imported: {error}"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise UserInputError(f"{module_name} has no callable {attribute!r}", hint=hint)
    return factory  # type: ignore[no-any-return]
