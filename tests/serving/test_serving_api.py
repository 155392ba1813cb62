"""The scoring server's public API: inputs, errors, environments and Prometheus counters."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.targets.local import LocalTarget
from tests.serving.support import SAFE_ROWS, make_manifest
from tests.support.serving_models import Registry

COLUMNS = ["a", "b", "c", "d"]


@pytest.fixture
def serving(target: LocalTarget, registry: Registry) -> str:
    """The logistic version serving `churn` in production; its version."""
    version = registry.version("logistic")
    target.apply(make_manifest(version), print)
    return version


def predict(client: httpx.Client, body: object, **params: str) -> httpx.Response:
    """POST a prediction request for `churn`."""
    return client.post("/v1/models/churn/predict", json=body, params=params)


def test_records_and_dataframe_split_give_the_same_predictions(
    serving: str, client: httpx.Client
) -> None:
    """Callers may send MLflow's `dataframe_split` or plain records; both score the same rows."""
    split = {"columns": COLUMNS, "data": [[row[c] for c in COLUMNS] for row in SAFE_ROWS]}
    answers = [
        predict(client, SAFE_ROWS),
        predict(client, {"records": SAFE_ROWS}),
        predict(client, {"dataframe_split": split}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    bodies = [a.json() for a in answers]
    assert bodies[0]["predictions"] in ([0, 1], [1, 0], [0, 0], [1, 1])
    assert all(b["predictions"] == bodies[0]["predictions"] for b in bodies)
    assert all(b["version"] == serving for b in bodies)


@pytest.mark.usefixtures("serving")
def test_integer_json_numbers_are_accepted_for_double_columns(client: httpx.Client) -> None:
    """JSON cannot say `1.0` versus `1`; a double column must accept both."""
    answer = predict(client, [{"a": 1, "b": 0, "c": 0, "d": 0}])
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"rows": []}, 400, "not a list of records"),
        ([], 400, "no rows"),
        ({"dataframe_split": {"columns": COLUMNS}}, 400, "needs"),
        ([{"a": 1.0}], 400, "missing inputs"),
    ],
)
@pytest.mark.usefixtures("serving")
def test_bad_requests_say_what_to_send(
    client: httpx.Client, body: object, status: int, fragment: str
) -> None:
    """A client's mistake is a 400 naming the problem, never a 500."""
    answer = predict(client, body)
    assert answer.status_code == status
    assert fragment in answer.json()["detail"]


@pytest.mark.usefixtures("serving")
def test_body_that_is_not_json_is_refused(client: httpx.Client) -> None:
    """Garbage bodies get a 400 with the expected shapes in the hint."""
    answer = client.post("/v1/models/churn/predict", content=b"{not json")
    assert answer.status_code == 400
    assert "dataframe_split" in answer.json()["hint"]


def test_environments_are_served_apart(
    serving: str, target: LocalTarget, registry: Registry, client: httpx.Client
) -> None:
    """`?environment=` picks the (model, environment); staging never answers for production."""
    staging = registry.version("boosted")
    target.apply(make_manifest(staging, environment="staging"), print)
    assert predict(client, SAFE_ROWS).json()["version"] == serving
    assert predict(client, SAFE_ROWS, environment="staging").json()["version"] == staging
    assert predict(client, SAFE_ROWS, environment="qa").status_code == 404
    listed = {(m["model"], m["environment"]) for m in client.get("/v1/models").json()}
    assert listed == {("churn", "production"), ("churn", "staging")}


def test_unknown_model_is_404(client: httpx.Client) -> None:
    """Nothing deployed: a clear 404 that says how to deploy."""
    answer = predict(client, SAFE_ROWS)
    assert answer.status_code == 404
    assert "promobot apply" in answer.json()["hint"]


def test_metrics_count_requests_errors_and_latency_per_version(
    serving: str, client: httpx.Client
) -> None:
    """Verification reads these counters, so they must be exact."""
    for _ in range(5):
        assert predict(client, SAFE_ROWS).status_code == 200
    for _ in range(2):
        assert predict(client, [{"a": 1.0}]).status_code == 400
    text = client.get("/metrics").text
    samples = {
        (sample.name, sample.labels.get("le")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("version") == serving
    }
    assert samples[("promobot_serving_requests_total", None)] == 7
    assert samples[("promobot_serving_errors_total", None)] == 2
    assert samples[("promobot_serving_latency_seconds_count", None)] == 7
    assert samples[("promobot_serving_latency_seconds_bucket", "+Inf")] == 7
    assert samples[("promobot_serving_traffic_share", None)] == 100
    described = client.get("/v1/models/churn").json()["versions"][0]
    assert (described["requests"], described["errors"]) == (7, 2)
