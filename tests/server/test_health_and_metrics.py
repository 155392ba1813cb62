"""Probes and Prometheus metrics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.server.metrics import DeliveryOutcome, ServiceMetrics
from tests.server.support import (
    LiveService,
    github_delivery,
    live_service,
    push_payload,
    wait_until,
)
from tests.support.postgres import is_postgres_skipped, postgres_test_url


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LiveService]:
    with live_service(f"sqlite:///{tmp_path / 'events.db'}", tmp_path) as live:
        yield live


def test_health_and_readiness_answer_when_the_database_is_up(service: LiveService) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    assert service.client.get("/readyz").status_code == 200


def test_metrics_count_deliveries_processing_queue_and_verdicts(service: LiveService) -> None:
    """Operations see what arrives, what was refused, what is waiting, and what was decided."""
    body, headers = github_delivery("push", push_payload(), delivery_id="m-1")
    service.client.post("/webhooks/github", content=body, headers=headers)
    service.client.post("/webhooks/github", content=body, headers=headers)
    body, headers = github_delivery("push", push_payload(), secret="forged")
    service.client.post("/webhooks/github", content=body, headers=headers)
    wait_until(lambda: service.delivered() == ["m-1"])
    service.metrics.record_verdict("promote")
    service.metrics.record_verdict("promote")
    service.metrics.record_verdict("reject")
    text_ = service.client.get("/metrics").text
    for line in (
        'promobot_webhook_deliveries_total{event="push",outcome="accepted",source="github"} 1.0',
        'promobot_webhook_deliveries_total{event="push",outcome="duplicate",source="github"} 1.0',
        'promobot_webhook_deliveries_total{event="-",outcome="unauthenticated",source="github"} 1.0',  # noqa: E501
        'promobot_promotions_total{verdict="promote"} 2.0',
        'promobot_promotions_total{verdict="reject"} 1.0',
        "promobot_event_queue_depth 0.0",
    ):
        assert line in text_
    wait_until(
        lambda: (
            'promobot_event_processing_seconds_count{kind="pushed",outcome="done"} 1.0'
            in service.client.get("/metrics").text
        )
    )


def test_each_app_has_its_own_registry() -> None:
    """Two services in one process (tests, benchmarks) never mix their counts."""
    first, second = ServiceMetrics(), ServiceMetrics()
    first.record_delivery("github", "push", DeliveryOutcome.ACCEPTED)
    assert b'outcome="accepted"' in first.render()[0]
    assert b'outcome="accepted"' not in second.render()[0]


@pytest.fixture
def own_postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own, so the test can cut it off without harming others."""
    if is_postgres_skipped():
        pytest.skip("PROMOBOT_SKIP_POSTGRES=1: PostgreSQL left out on request")
    try:
        url = postgres_test_url()
    except Exception as error:
        pytest.fail(str(error))
    name = f"readyz_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.postgres
def test_readiness_fails_while_the_database_is_unreachable(
    own_postgres_database: str, tmp_path: Path
) -> None:
    """A load balancer must stop sending deliveries to a replica that cannot store them."""
    name = make_url(own_postgres_database).database
    with live_service(own_postgres_database, tmp_path) as live:
        assert live.client.get("/readyz").status_code == 200
        admin = create_engine(postgres_test_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
        response = live.client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "reason": "database unreachable"}
        with admin.connect() as connection:
            connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        admin.dispose()
        wait_until(lambda: live.client.get("/readyz").status_code == 200, what="recovery")
