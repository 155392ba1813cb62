"""The three webhook endpoints over real HTTP: authenticate, parse, persist, acknowledge."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.webhooks.signatures import sign_github
from tests.server.support import (
    AZURE_KEY,
    GITHUB_SECRET,
    LiveService,
    github_delivery,
    live_service,
    mlflow_delivery,
    push_payload,
    wait_until,
)
from tests.support.contract import OctokitExamples


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LiveService]:
    with live_service(
        f"sqlite:///{tmp_path / 'events.db'}", tmp_path, max_body_bytes=64 * 1024
    ) as live:
        yield live


def post_github(service: LiveService, event: str, payload: Any, **kwargs: Any) -> Any:
    body, headers = github_delivery(event, payload, **kwargs)
    return service.client.post("/webhooks/github", content=body, headers=headers)


def test_a_signed_github_delivery_is_accepted_and_processed(service: LiveService) -> None:
    """Verify → persist → 202; a worker then hands the domain event to the handler."""
    response = post_github(service, "push", push_payload(), delivery_id="d-1")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery": "d-1", "kind": "pushed"}
    wait_until(lambda: service.delivered() == ["d-1"], what="the push to be handled")
    assert service.recorder.effects() == [("d-1", "pushed", "ref:octo/models@refs/heads/main")]


def test_githubs_test_vector_authenticates(
    tmp_path: Path, read_fixture: Callable[[str], Any]
) -> None:
    """GitHub's documented secret and signature pass; its body is then not JSON (400, not 401)."""
    vector = read_fixture("github/signature-test-vector.json")
    url = f"sqlite:///{tmp_path / 'vector.db'}"
    with live_service(url, tmp_path, github_webhook_secret=vector["secret"]) as live:
        headers = {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "v-1",
            "X-Hub-Signature-256": vector["expected_header"],
        }
        response = live.client.post("/webhooks/github", content=vector["payload"], headers=headers)
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["error"]
        headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
        response = live.client.post("/webhooks/github", content=vector["payload"], headers=headers)
        assert response.status_code == 401


def test_a_forged_delivery_is_refused_and_logged_without_its_body(
    service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret gets 401; the log names the delivery but never shows the payload."""
    caplog.set_level(logging.WARNING)
    payload = push_payload(ref="refs/heads/secret-branch-name")
    response = post_github(service, "push", payload, delivery_id="forged-1", secret="wrong")
    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated"}
    assert "forged-1" in caplog.text
    assert "does not match" in caplog.text
    assert "secret-branch-name" not in caplog.text
    assert service.store.list_events() == []


def test_an_unsigned_delivery_is_refused(service: LiveService) -> None:
    body, headers = github_delivery("push", push_payload())
    del headers["X-Hub-Signature-256"]
    assert service.client.post("/webhooks/github", content=body, headers=headers).status_code == 401


def test_without_a_configured_secret_every_delivery_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unconfigured secret must never mean "accept everything"."""
    caplog.set_level(logging.WARNING)
    url = f"sqlite:///{tmp_path / 'other.db'}"
    with live_service(url, tmp_path, github_webhook_secret=None) as live:
        body, headers = github_delivery("push", push_payload())
        assert (
            live.client.post("/webhooks/github", content=body, headers=headers).status_code == 401
        )
    assert "PROMOBOT_GITHUB_WEBHOOK_SECRET" in caplog.text


def test_a_signed_body_that_is_not_json_is_a_bad_request(service: LiveService) -> None:
    _, headers = github_delivery("push", {})
    body = b"{not json"
    headers["X-Hub-Signature-256"] = sign_github(GITHUB_SECRET, body)
    response = service.client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400


def test_a_handled_event_missing_a_needed_field_is_a_bad_request(service: LiveService) -> None:
    payload = push_payload()
    del payload["after"]
    response = post_github(service, "push", payload)
    assert response.status_code == 400
    assert "after" in response.json()["error"]


def test_events_promobot_does_not_handle_are_acknowledged_and_ignored(
    service: LiveService, octokit_examples: OctokitExamples
) -> None:
    """GitHub sends many event types; unused ones get 202 and are never stored."""
    payload = octokit_examples.of("check_suite", "completed")[-1]
    response = post_github(service, "check_suite", payload)
    assert (response.status_code, response.json()["status"]) == (202, "ignored")
    response = post_github(service, "ping", {"zen": "Keep it logically awesome."})
    assert (response.status_code, response.json()["status"]) == (202, "ignored")
    assert service.store.list_events() == []


def test_a_redelivered_id_is_acknowledged_and_processed_once(service: LiveService) -> None:
    """GitHub's "redeliver" button and network retries must not repeat the work."""
    first = post_github(service, "push", push_payload(), delivery_id="again")
    second = post_github(service, "push", push_payload(after="c"), delivery_id="again")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    wait_until(lambda: service.delivered() == ["again"])
    assert [e.delivery_id for e in service.store.list_events()] == ["again"]
    assert service.recorder.executions() == [("again", 1)]


def declare_huge_body(url: str, path: str, length: int) -> bytes:
    """Send headers declaring `length` bytes but only a few of them; return the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n"
        connection.sendall(head.encode() + b"{}")
        return connection.recv(4096)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(service: LiveService) -> None:
    """413 from Content-Length alone: the body is never waited for, nor held in memory."""
    answer = declare_huge_body(service.url, "/webhooks/github", 64 * 1024 + 1)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_streamed_body_over_the_limit_is_refused(service: LiveService) -> None:
    """Chunked bodies have no Content-Length: the limit applies while reading."""

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = service.client.post("/webhooks/mlflow", content=chunks())
    assert response.status_code == 413


def test_the_default_limit_is_25_megabytes(tmp_path: Path) -> None:
    """GitHub caps payloads at 25 MB; anything larger is not a GitHub delivery."""
    url = f"sqlite:///{tmp_path / 'default.db'}"
    with live_service(url, tmp_path) as live:
        answer = declare_huge_body(live.url, "/webhooks/azure", 25 * 1024 * 1024 + 1)
        assert answer.startswith(b"HTTP/1.1 413 ")
        body, headers = github_delivery("push", {**push_payload(), "pad": "x" * (1024 * 1024)})
        assert (
            live.client.post("/webhooks/github", content=body, headers=headers).status_code == 202
        )


def test_an_mlflow_version_created_is_accepted(
    service: LiveService, mlflow_bodies: dict[str, Any]
) -> None:
    """MLflow's delivery, signed over id, timestamp and body, triggers a proposal."""
    body, headers = mlflow_delivery(mlflow_bodies["model_version.created"])
    response = service.client.post("/webhooks/mlflow", content=body, headers=headers)
    assert response.status_code == 202
    wait_until(lambda: len(service.delivered()) == 1)
    assert service.recorder.effects()[0][1:] == ("model_version_created", "model:example_model")


@pytest.mark.parametrize("offset", [-360, 360])
def test_an_mlflow_delivery_six_minutes_off_is_refused(service: LiveService, offset: int) -> None:
    """A replayed (or pre-dated) capture is refused even with a valid signature."""
    payload = {
        "entity": "model_version",
        "action": "created",
        "data": {"name": "m", "version": "1"},
    }
    body, headers = mlflow_delivery(payload, timestamp=int(time.time()) + offset)
    assert service.client.post("/webhooks/mlflow", content=body, headers=headers).status_code == 401


def test_an_mlflow_body_changed_after_signing_is_refused(service: LiveService) -> None:
    payload = {
        "entity": "model_version",
        "action": "created",
        "data": {"name": "m", "version": "1"},
    }
    body, headers = mlflow_delivery(payload)
    tampered = body.replace(b'"1"', b'"2"')
    assert (
        service.client.post("/webhooks/mlflow", content=tampered, headers=headers).status_code
        == 401
    )


def test_other_mlflow_events_are_ignored(service: LiveService) -> None:
    payload = {
        "entity": "model_version_alias",
        "action": "created",
        "data": {"name": "m", "alias": "a", "version": "1"},
    }
    body, headers = mlflow_delivery(payload)
    response = service.client.post("/webhooks/mlflow", content=body, headers=headers)
    assert (response.status_code, response.json()["status"]) == (202, "ignored")


VALIDATION = [
    {
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        "subject": "",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2018-01-25T22:12:19.4556811Z",
        "metadataVersion": "1",
        "dataVersion": "1",
    }
]


def test_event_grid_validation_handshake_echoes_the_code(service: LiveService) -> None:
    """A new Event Grid subscription is only activated after this answer."""
    response = service.client.post(
        "/webhooks/azure",
        params={"key": AZURE_KEY},
        json=VALIDATION,
        headers={"aeg-event-type": "SubscriptionValidation"},
    )
    assert response.status_code == 200
    assert response.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}


@pytest.mark.parametrize(
    ("params", "headers"),
    [({}, {}), ({"key": "wrong"}, {}), ({}, {"aeg-sas-key": AZURE_KEY})],
)
def test_event_grid_without_the_endpoints_key_is_refused(
    service: LiveService, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = service.client.post(
        "/webhooks/azure", params=params, headers=headers, json=VALIDATION
    )
    assert response.status_code == 401


@pytest.mark.parametrize("case", ["PascalCase", "camelCase"])
def test_model_registered_is_accepted_in_both_key_cases(
    service: LiveService, read_fixture: Callable[[str], Any], case: str
) -> None:
    """The documented example (PascalCase) and the specification (camelCase) both work."""
    event = read_fixture("azure/event-grid.model_registered.json")["payload"]
    if case == "camelCase":
        event["data"] = {k[0].lower() + k[1:]: v for k, v in event["data"].items()}
    response = service.client.post("/webhooks/azure", params={"key": AZURE_KEY}, json=[event])
    assert response.status_code == 202
    again = service.client.post("/webhooks/azure", params={"key": AZURE_KEY}, json=[event])
    assert (again.status_code, again.json()["events"]) == (200, ["duplicate"])
    wait_until(lambda: len(service.delivered()) == 1)
    assert service.recorder.effects()[0][1:] == (
        "model_version_created",
        "model:churn-classifier",
    )


def test_cloudevents_abuse_protection_handshake(service: LiveService) -> None:
    """CloudEvents subscriptions ask with OPTIONS and expect the origin echoed."""
    origin = {"WebHook-Request-Origin": "eventgrid.azure.net"}
    response = service.client.options("/webhooks/azure", params={"key": AZURE_KEY}, headers=origin)
    assert response.status_code == 200
    assert response.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert service.client.options("/webhooks/azure", headers=origin).status_code == 401
