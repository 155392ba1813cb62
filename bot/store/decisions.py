"""The `decisions` table: a version is decided once per environment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Row, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.base import Decision
from bot.store.schema import decisions


class SqlDecisionLog:
    """`DecisionLog` on SQLAlchemy. A unique constraint makes `record` race-free."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        registry: str,
        model: str,
        version: str,
        environment: str,
        outcome: str,
        detail: str = "",
    ) -> bool:
        """Record the decision; False (nothing changed) if one was already recorded."""
        statement = (
            _insert(self._engine)(decisions)
            .values(
                registry=registry,
                model=model,
                version=version,
                environment=environment,
                outcome=outcome,
                detail=detail,
                decided_at=self._clock(),
            )
            .on_conflict_do_nothing(index_elements=["registry", "model", "version", "environment"])
            .returning(decisions.c.id)
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def get(self, registry: str, model: str, version: str, environment: str) -> Decision | None:
        """The recorded decision, if any."""
        query = select(decisions).where(
            decisions.c.registry == registry,
            decisions.c.model == model,
            decisions.c.version == version,
            decisions.c.environment == environment,
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _to_decision(row)

    def list(self, model: str | None = None) -> list[Decision]:
        """Recorded decisions, oldest first, optionally for one model."""
        query = select(decisions).order_by(decisions.c.id)
        if model is not None:
            query = query.where(decisions.c.model == model)
        with self._engine.connect() as connection:
            return [_to_decision(row) for row in connection.execute(query)]


def _insert(engine: Engine) -> Any:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


def _to_decision(row: Row[Any]) -> Decision:
    return Decision(
        registry=row.registry,
        model=row.model,
        version=row.version,
        environment=row.environment,
        outcome=row.outcome,
        detail=row.detail,
        decided_at=dt.datetime.fromtimestamp(row.decided_at, tz=dt.UTC),
    )
