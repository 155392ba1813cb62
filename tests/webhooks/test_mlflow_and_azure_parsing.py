"""MLflow and Azure Event Grid payloads → domain events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.domain.manifest import RegistryKind
from bot.webhooks.azure import MODEL_REGISTERED, parse_event_grid
from bot.webhooks.events import ModelVersionCreated
from bot.webhooks.mlflow import mlflow_event_name, parse_mlflow
from bot.webhooks.payloads import PayloadError

GRID = "azure/eventgrid-machinelearningservices"


def mlflow_bodies(fixtures_dir: Path) -> dict[str, Any]:
    assembled = json.loads(
        (fixtures_dir / "mlflow/webhooks/mlflow-webhook-payloads.json").read_text()
    )
    return {name: spec["example_body"] for name, spec in assembled["events"].items()}


def test_mlflow_model_version_created_becomes_a_new_model_version(fixtures_dir: Path) -> None:
    """MLflow's own example body (what its "test webhook" sends) triggers a proposal."""
    body = mlflow_bodies(fixtures_dir)["model_version.created"]
    assert parse_mlflow(body) == ModelVersionCreated(
        registry=RegistryKind.MLFLOW,
        model="example_model",
        version="1",
        run_id="abcd1234abcd5678",
        source="models:/123",
    )


def test_other_mlflow_events_are_ignored(fixtures_dir: Path) -> None:
    """Aliases, tags and registered models do not start a proposal."""
    others = {k: v for k, v in mlflow_bodies(fixtures_dir).items() if k != "model_version.created"}
    assert len(others) >= 5
    for name, body in others.items():
        assert mlflow_event_name(body) == name
        assert parse_mlflow(body) is None


def test_mlflow_data_files_match_the_assembled_bodies(fixtures_dir: Path) -> None:
    """The `data` files hold the very payload a created version sends, null run id allowed."""
    data = json.loads(
        (fixtures_dir / "mlflow/webhooks/model_version.created.data.json").read_text()
    )
    data["run_id"] = None
    event = parse_mlflow({"entity": "model_version", "action": "created", "data": data})
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


def grid_event(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((fixtures_dir / GRID / name).read_text()))


def camel_case(data: dict[str, Any]) -> dict[str, Any]:
    return {key[0].lower() + key[1:]: value for key, value in data.items()}


def test_model_registered_in_pascal_case_becomes_a_new_model_version(fixtures_dir: Path) -> None:
    """The published example uses PascalCase keys and an integer version."""
    event = grid_event(fixtures_dir, "event-grid-schema.model_registered.json")
    [parsed] = parse_event_grid([event])
    assert parsed.event_id == "831e1650-001e-001b-66ab-eeb76e069631"
    assert parsed.event == ModelVersionCreated(
        registry=RegistryKind.AZUREML, model="sklearn_regression_model", version="20"
    )


def test_model_registered_in_camel_case_parses_the_same(fixtures_dir: Path) -> None:
    """The REST specification uses camelCase keys: both must work."""
    pascal = grid_event(fixtures_dir, "event-grid-schema.model_registered.json")
    camel = {**pascal, "data": camel_case(pascal["data"])}
    assert "modelName" in camel["data"]
    assert parse_event_grid([camel]) == parse_event_grid([pascal])


def test_cloud_events_schema_is_read_too(fixtures_dir: Path) -> None:
    """Subscriptions may deliver CloudEvents 1.0 (`type`, one object) instead."""
    deployed = grid_event(fixtures_dir, "cloud-events-schema.model_deployed.json")
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


def test_other_grid_events_are_ignored(fixtures_dir: Path) -> None:
    """RunCompleted and ModelDeployed are not promotion triggers."""
    events = [
        grid_event(fixtures_dir, "event-grid-schema.run_completed.json"),
        grid_event(fixtures_dir, "event-grid-schema.model_deployed.json"),
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
