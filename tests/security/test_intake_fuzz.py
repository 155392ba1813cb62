"""Hypothesis drives the three webhook endpoints with generated hostile requests, signed
or not: hostile headers (any byte but the line breaks that frame HTTP), hostile MLflow
timestamps, arbitrary bytes, JSON of any shape, and nesting up to 200,000 levels deep.
Whatever it sends: no 5xx, no traceback, an answer within the per-request bound."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.intake import (
    Header,
    assert_no_crash,
    azure_headers,
    github_headers,
    mlflow_headers,
    request_bytes,
    running_service,
    send,
)
from tests.server.support import LiveService

EXAMPLES = 100
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

header_values = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300).map(str.encode),
    st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)
"""Printable text, or any bytes a header line can hold (CR and LF would end it)."""
delivery_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
hostile_text = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["", "²", "٣", "１", "\u0000", "../..", "x" * 5000, "9" * 5000, "-1"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=20,
)


def shaped_like(path: str) -> st.SearchStrategy[Any]:
    """Payloads shaped like the endpoint's real deliveries, every value hostile."""
    if path.endswith("github"):
        return st.fixed_dictionaries(
            {
                "ref": json_values,
                "before": json_values,
                "after": json_values,
                "repository": st.fixed_dictionaries({"full_name": json_values}) | json_values,
                "action": json_values,
                "pull_request": json_values,
                "comment": json_values,
                "client_payload": json_values,
            }
        )
    if path.endswith("mlflow"):
        return st.fixed_dictionaries(
            {
                "entity": st.sampled_from(["model_version"]) | hostile_text,
                "action": st.sampled_from(["created"]) | hostile_text,
                "data": st.fixed_dictionaries({"name": json_values, "version": json_values})
                | json_values,
            }
        )
    event = st.fixed_dictionaries(
        {
            "id": json_values,
            "eventType": st.sampled_from(
                [
                    "Microsoft.MachineLearningServices.ModelRegistered",
                    "Microsoft.EventGrid.SubscriptionValidationEvent",
                ]
            )
            | hostile_text,
            "data": st.dictionaries(
                st.sampled_from(["modelName", "modelVersion", "validationCode"]),
                json_values,
                max_size=3,
            )
            | json_values,
        }
    )
    return st.lists(event, max_size=5) | event


def bodies(path: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=2000),
        json_values.map(lambda value: json.dumps(value).encode()),
        shaped_like(path).map(lambda value: json.dumps(value).encode()),
        st.integers(0, 200_000).map(lambda depth: b"[" * depth),
        st.integers(0, 100_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
        st.text(st.sampled_from('[]{}",:0123456789.eE-+\\ntrue'), max_size=2000).map(str.encode),
    )


@st.composite
def mlflow_timestamps(draw: st.DrawFn) -> bytes:
    """Now, a little off, far off, or not a number at all."""
    choice = draw(st.integers(0, 7))  # Hypothesis favours small values: 0 is now
    if choice == 7:
        return draw(header_values)
    offset = draw(st.integers()) if choice == 6 else draw(st.sampled_from([0, 299, -301]))
    return str(int(time.time()) + offset).encode()


@st.composite
def requests(draw: st.DrawFn, path: str) -> bytes:
    body = draw(bodies(path))
    headers: list[Header] = []
    if draw(st.integers(0, 3)) < 3:  # mostly signed, so that bodies get parsed
        if path.endswith("github"):
            events = st.sampled_from(
                ["push", "pull_request", "issue_comment", "status", "repository_dispatch", "ping"]
            )
            event = draw(events | delivery_ids | st.text(max_size=80))
            delivery = draw(delivery_ids)
            headers = github_headers(body, event=event, delivery_id=delivery or "d")
        elif path.endswith("mlflow"):
            delivery = draw(delivery_ids)
            timestamp = draw(mlflow_timestamps())
            headers = mlflow_headers(body, timestamp=timestamp, delivery_id=delivery or "d")
        else:
            headers = azure_headers()
    names = [
        "Content-Type",
        "X-GitHub-Event",
        "X-GitHub-Delivery",
        "X-Hub-Signature-256",
        "X-MLflow-Delivery-Id",
        "X-MLflow-Timestamp",
        "X-MLflow-Signature",
        "Authorization",
        "Content-Encoding",
    ]
    extra = draw(st.lists(st.tuples(st.sampled_from(names), header_values), max_size=3))
    query = draw(st.sampled_from(["", "", "?key=", "?key=%FF", "?key=" + "k" * 3000]))
    # The first of two equal headers is the one read: the signed ones come first.
    return request_bytes(path + query, [*headers, *extra], body)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with running_service(tmp_path_factory.mktemp("fuzz")) as live:
        yield live


@FUZZ
@given(data=st.data())
def test_github_endpoint_survives_generated_hostile_requests(
    service: LiveService, data: st.DataObject
) -> None:
    assert_no_crash(send(service, data.draw(requests("/webhooks/github"))))


@FUZZ
@given(data=st.data())
def test_mlflow_endpoint_survives_generated_hostile_requests(
    service: LiveService, data: st.DataObject
) -> None:
    assert_no_crash(send(service, data.draw(requests("/webhooks/mlflow"))))


@FUZZ
@given(data=st.data())
def test_azure_endpoint_survives_generated_hostile_requests(
    service: LiveService, data: st.DataObject
) -> None:
    assert_no_crash(send(service, data.draw(requests("/webhooks/azure"))))
