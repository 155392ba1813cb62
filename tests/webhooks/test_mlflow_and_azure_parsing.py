"""MLflow and Azure Event Grid payloads → domain events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.domain.manifest import RegistryKind
from bot.webhooks.azure import MODEL_REGISTERED, parse_event_grid
from bot.webhooks.events import ModelVersionCreated
from bot.webhooks.mlflow import mlflow_event_name, parse_mlflow
from bot.webhooks.payloads import PayloadError


def test_mlflow_model_version_created_becomes_a_new_model_version(
    mlflow_bodies: dict[str, Any],
) -> None:
    """MLflow's own example body (what its "test webhook" sends) triggers a proposal."""
    assert parse_mlflow(mlflow_bodies["model_version.created"]) == ModelVersionCreated(
        registry=RegistryKind.MLFLOW,
        model="example_model",
        version="1",
        run_id="abcd1234abcd5678",
        source="models:/123",
    )


def test_other_mlflow_events_are_ignored(mlflow_bodies: dict[str, Any]) -> None:
    """Aliases, tags, registered models, prompts and budgets do not start a proposal."""
    others = {k: v for k, v in mlflow_bodies.items() if k != "model_version.created"}
    assert {"model_version_alias.created", "model_version_tag.set"} <= set(others)
    assert len(others) >= 5
    for name, body in others.items():
        assert mlflow_event_name(body) == name
        assert parse_mlflow(body) is None


def test_a_created_version_without_a_run_parses(mlflow_bodies: dict[str, Any]) -> None:
    """MLflow's payload type allows a null run id (a version registered from a path)."""
    body = mlflow_bodies["model_version.created"]
    body["data"]["run_id"] = None
    event = parse_mlflow(body)
    assert isinstance(event, ModelVersionCreated)
    assert (event.model, event.version, event.run_id) == ("example_model", "1", None)


@pytest.mark.parametrize(
    "body",
    [[1], {"entity": "model_version"}, {"entity": "", "action": "created"}],
)
def test_malformed_mlflow_envelopes_are_payload_errors(body: Any) -> None:
    """An authenticated but unreadable body is answered 400, not swallowed."""
    with pytest.raises(PayloadError):
        parse_mlflow(body)


def test_a_created_version_without_a_name_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="name"):
        parse_mlflow({"entity": "model_version", "action": "created", "data": {"version": "1"}})


def grid_event(read_fixture: Callable[[str], Any], name: str) -> dict[str, Any]:
    return dict(read_fixture(f"azure/{name}")["payload"])


def camel_case(data: dict[str, Any]) -> dict[str, Any]:
    return {key[0].lower() + key[1:]: value for key, value in data.items()}


def test_model_registered_in_pascal_case_becomes_a_new_model_version(
    read_fixture: Callable[[str], Any],
) -> None:
    """The documented example uses PascalCase keys and an integer version."""
    event = grid_event(read_fixture, "event-grid.model_registered.json")
    assert isinstance(event["data"]["ModelVersion"], int)
    [parsed] = parse_event_grid([event])
    assert parsed.event_id == "5d0b7a4e-2f3c-4e8a-b1d6-93c7e0f2a845"
    assert parsed.event == ModelVersionCreated(
        registry=RegistryKind.AZUREML, model="churn-classifier", version="7"
    )


def test_model_registered_in_camel_case_parses_the_same(
    read_fixture: Callable[[str], Any],
) -> None:
    """The REST specification uses camelCase keys: both must work."""
    pascal = grid_event(read_fixture, "event-grid.model_registered.json")
    camel = {**pascal, "data": camel_case(pascal["data"])}
    assert "modelName" in camel["data"]
    assert parse_event_grid([camel]) == parse_event_grid([pascal])


def test_cloud_events_schema_is_read_too(read_fixture: Callable[[str], Any]) -> None:
    """Subscriptions may deliver CloudEvents 1.0 (`type`, one object) instead."""
    deployed = grid_event(read_fixture, "cloud-events.model_deployed.json")
    [ignored] = parse_event_grid(deployed)
    assert (ignored.event_type, ignored.event) == (
        "Microsoft.MachineLearningServices.ModelDeployed",
        None,
    )
    registered = {
        **deployed,
        "type": MODEL_REGISTERED,
        "data": {"modelName": "m", "modelVersion": "3"},
    }
    [parsed] = parse_event_grid(registered)
    assert isinstance(parsed.event, ModelVersionCreated)
    assert parsed.event.version == "3"


def test_other_grid_events_are_ignored(read_fixture: Callable[[str], Any]) -> None:
    """RunCompleted and ModelDeployed are not promotion triggers."""
    events = [
        grid_event(read_fixture, "event-grid.run_completed.json"),
        grid_event(read_fixture, "event-grid.model_deployed.json"),
    ]
    assert [item.event for item in parse_event_grid(events)] == [None, None]


def test_the_subscription_validation_event_carries_its_code() -> None:
    """Event Grid activates a subscription only after its code is echoed back."""
    validation = {
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/x",
        "subject": "",
        "data": {
            "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
            "validationUrl": "https://x",
        },
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2018-01-25T22:12:19.4556811Z",
        "metadataVersion": "1",
        "dataVersion": "1",
    }
    [parsed] = parse_event_grid([validation])
    assert parsed.validation_code == "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        [{"eventType": MODEL_REGISTERED, "data": {}}],
        [{"id": "1", "eventType": MODEL_REGISTERED, "data": {"ModelVersion": 2}}],
        [
            {
                "id": "1",
                "eventType": MODEL_REGISTERED,
                "data": {"ModelName": "m", "ModelVersion": True},
            }
        ],
        [{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": {}}],
    ],
)
def test_malformed_grid_deliveries_are_payload_errors(body: Any) -> None:
    with pytest.raises(PayloadError):
        parse_event_grid(body)
