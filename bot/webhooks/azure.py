"""Azure Event Grid deliveries → domain events.

Event Grid POSTs a JSON array of events (Event Grid schema: `eventType`) or CloudEvents
(`type`; one object or an array). A new subscription first sends a
`Microsoft.EventGrid.SubscriptionValidationEvent` whose `validationCode` must be echoed as
`{"validationResponse": code}`. Data keys come in camelCase (the REST specification) and
PascalCase (the published examples): they are matched without regard to case.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from bot.domain.manifest import RegistryKind
from bot.webhooks.events import DomainEvent, ModelVersionCreated
from bot.webhooks.payloads import Foreign, PayloadError, describe_validation_error

SUBSCRIPTION_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
MAX_EVENTS_PER_DELIVERY = 5000
"""Event Grid sends at most 5,000 events in one delivery."""


class _GridEvent(Foreign):
    id: str = Field(min_length=1)
    event_type: str | None = Field(default=None, alias="eventType")
    type: str | None = None
    data: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.event_type or self.type or ""


class AzureEvent(Foreign):
    """One event of a delivery: its id (the dedupe key), type and meaning to promobot."""

    event_id: str
    event_type: str
    event: DomainEvent | None = None
    validation_code: str | None = None


def parse_event_grid(payload: Any) -> list[AzureEvent]:
    """Every event of an Event Grid delivery, validation events included."""
    items = payload if isinstance(payload, list) else [payload]
    if not items or not all(isinstance(item, dict) for item in items):
        raise PayloadError("Event Grid delivery is not a non-empty list of event objects")
    if len(items) > MAX_EVENTS_PER_DELIVERY:
        raise PayloadError(f"Event Grid delivery has more than {MAX_EVENTS_PER_DELIVERY} events")
    return [_parse_one(index, item) for index, item in enumerate(items)]


def _parse_one(index: int, item: dict[str, Any]) -> AzureEvent:
    try:
        grid = _GridEvent.model_validate(item)
    except ValidationError as error:
        raise describe_validation_error(error, f"Event Grid event {index}") from None
    data = {str(key).lower(): value for key, value in (grid.data or {}).items()}
    if grid.name == SUBSCRIPTION_VALIDATION:
        code = data.get("validationcode")
        if not isinstance(code, str) or not code:
            raise PayloadError(f"Event Grid event {index}: validation event has no validationCode")
        return AzureEvent(event_id=grid.id, event_type=grid.name, validation_code=code)
    if grid.name == MODEL_REGISTERED:
        return AzureEvent(event_id=grid.id, event_type=grid.name, event=_registered(index, data))
    return AzureEvent(event_id=grid.id, event_type=grid.name)


def _registered(index: int, data: dict[str, Any]) -> ModelVersionCreated:
    name, version = data.get("modelname"), data.get("modelversion")
    if not isinstance(name, str) or not name:
        raise PayloadError(f"Event Grid event {index}: ModelRegistered without modelName")
    if isinstance(version, bool) or not isinstance(version, int | str) or str(version) == "":
        raise PayloadError(f"Event Grid event {index}: ModelRegistered without modelVersion")
    return ModelVersionCreated(registry=RegistryKind.AZUREML, model=name, version=str(version))
