"""The databases every store and server test runs on: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import (
    PostgresUnavailable,
    is_postgres_skipped,
    isolated_schema,
    postgres_test_url,
)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def open_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the backend; PostgreSQL fails loudly when not started."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    if is_postgres_skipped():
        pytest.skip("PROMOBOT_SKIP_POSTGRES=1: PostgreSQL left out on request")
    try:
        url = postgres_test_url()
    except PostgresUnavailable as error:
        pytest.fail(str(error))
    with isolated_schema(url) as scoped:
        yield scoped


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    yield from open_database_url(request.param, tmp_path)
