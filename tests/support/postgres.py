"""Support for tests that run the store on a real PostgreSQL server.

`.ci/postgres.sh` starts the server and prints `PROMOBOT_TEST_POSTGRES_URL`. Tests never
skip PostgreSQL silently: without the variable they fail and say how to start it, unless
`PROMOBOT_SKIP_POSTGRES=1` asks explicitly to leave PostgreSQL out (local runs only).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

URL_VARIABLE = "PROMOBOT_TEST_POSTGRES_URL"
SKIP_VARIABLE = "PROMOBOT_SKIP_POSTGRES"
HOW_TO_START = (
    f"{URL_VARIABLE} is not set: start the test server with "
    f'`eval "$(.ci/postgres.sh)"` (or set {SKIP_VARIABLE}=1 to leave PostgreSQL out locally)'
)


class PostgresUnavailable(Exception):
    """The test PostgreSQL server is not configured."""


def is_postgres_skipped() -> bool:
    """True when the developer asked explicitly to leave PostgreSQL out."""
    return os.environ.get(SKIP_VARIABLE) == "1"


def postgres_test_url() -> str:
    """The server's URL, or `PostgresUnavailable` saying how to start one."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        raise PostgresUnavailable(HOW_TO_START)
    return url


@contextmanager
def isolated_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh schema, dropped afterwards.

    Each test gets its own tables, so tests (and parallel test runs) never see each
    other's rows.
    """
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
