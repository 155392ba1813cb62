"""MLflow webhook deliveries → domain events.

MLflow POSTs `{"entity", "action", "timestamp", "data"}`; the event name is
`<entity>.<action>`. Only `model_version.created` matters to promobot.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from bot.domain.manifest import RegistryKind
from bot.webhooks.events import DomainEvent, ModelVersionCreated
from bot.webhooks.payloads import Foreign, PayloadError, describe_validation_error

MODEL_VERSION_CREATED = "model_version.created"


class _Envelope(Foreign):
    entity: str = Field(max_length=64)
    action: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class _ModelVersion(Foreign):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    source: str | None = None
    run_id: str | None = None


def mlflow_event_name(payload: Any) -> str:
    """`<entity>.<action>` of a delivery, or `PayloadError` when the envelope is wrong."""
    return _envelope(payload)[0]


def parse_mlflow(payload: Any) -> DomainEvent | None:
    """The domain event for an MLflow delivery, or None when promobot ignores it."""
    name, data = _envelope(payload)
    if name != MODEL_VERSION_CREATED:
        return None
    try:
        version = _ModelVersion.model_validate(data)
    except ValidationError as error:
        raise describe_validation_error(error, f"MLflow `{name}` data") from None
    return ModelVersionCreated(
        registry=RegistryKind.MLFLOW,
        model=version.name,
        version=version.version,
        run_id=version.run_id,
        source=version.source,
    )


def _envelope(payload: Any) -> tuple[str, dict[str, Any]]:
    try:
        envelope = _Envelope.model_validate(payload)
    except ValidationError as error:
        raise describe_validation_error(error, "MLflow webhook envelope") from None
    if not envelope.entity or not envelope.action:
        raise PayloadError("MLflow webhook envelope: empty `entity` or `action`")
    return f"{envelope.entity}.{envelope.action}", envelope.data
