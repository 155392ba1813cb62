"""What the service stores, and the protocols that say how: events, decisions, state.

An event is stored once per delivery id (per source), claimed by one worker at a time
under a lease, completed, or failed: retried later with backoff, and parked once its
attempts are used up. Events with the same key are never claimed together and are
claimed in arrival order: each key has one head (pending or running); later events of
the key are waiting, and the next one becomes pending when the head is done or parked.
"""

from __future__ import annotations

import datetime as dt
import enum
from concurrent.futures import Future
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class EventState(enum.StrEnum):
    """Where an event is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    PARKED = "parked"


class StoredEvent(BaseModel):
    """One stored event, as a worker or `promobot events list` sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(description="Store-assigned id; arrival order.")
    delivery_id: str = Field(description="The sender's delivery id (unique per source).")
    source: str = Field(description="Who sent it: github, mlflow, azure, tick, cli.")
    kind: str = Field(description="Domain event kind, e.g. `model_version_created`.")
    key: str = Field(description="Serialisation key: same key, one at a time, in order.")
    payload: dict[str, Any] = Field(description="The domain event as JSON data.")
    state: EventState = Field(description="pending, running, waiting, done or parked.")
    attempts: int = Field(description="How many times a worker claimed it.")
    created_at: dt.datetime = Field(description="When it was stored (UTC).")
    available_at: dt.datetime = Field(description="Not claimed before this time (UTC).")
    lease_until: dt.datetime | None = Field(
        default=None, description="While running: the claim expires at this time (UTC)."
    )
    claim_token: str | None = Field(
        default=None, description="While running: identifies the claim that holds it."
    )
    last_error: str | None = Field(default=None, description="Error of the last failed attempt.")
    finished_at: dt.datetime | None = Field(
        default=None, description="When it was completed or parked (UTC)."
    )


class EventStore(Protocol):
    """The durable queue between the webhook endpoints and the workers."""

    def add(
        self, delivery_id: str, source: str, kind: str, key: str, payload: dict[str, Any]
    ) -> bool:
        """Queue a new event; False (and nothing stored) if the id was seen before."""
        ...

    def submit(
        self, delivery_id: str, source: str, kind: str, key: str, payload: dict[str, Any]
    ) -> Future[bool]:
        """`add` without waiting: the future resolves (to `add`'s answer) once committed."""
        ...

    def claim(self, worker: str, lease_seconds: float) -> StoredEvent | None:
        """The oldest claimable event, now running under a lease; None when there is none."""
        ...

    def complete_and_claim(
        self, event: StoredEvent, worker: str, lease_seconds: float
    ) -> tuple[bool, StoredEvent | None]:
        """`complete` then `claim` at once: whether it completed, and the next event."""
        ...

    def extend_lease(self, event: StoredEvent, lease_seconds: float) -> bool:
        """Keep a running claim alive; False if the claim was lost."""
        ...

    def complete(self, event: StoredEvent) -> bool:
        """Mark a claimed event done; False if the claim was lost (lease expired)."""
        ...

    def fail(self, event: StoredEvent, error: str, retry_at: dt.datetime | None) -> bool:
        """Record a failed attempt: pending again from `retry_at`, or parked when None."""
        ...

    def get(self, event_id: int) -> StoredEvent | None:
        """One event by id."""
        ...

    def list_events(self, state: EventState | None = None, limit: int = 100) -> list[StoredEvent]:
        """Events, newest first, optionally of one state."""
        ...

    def replay(self, event_id: int) -> bool:
        """Queue a parked event again with fresh attempts (behind its key's head, if any);
        False if it is not parked."""
        ...

    def replay_parked(self) -> int:
        """Replay every parked event; how many."""
        ...

    def prune(self, finished_before: dt.datetime) -> int:
        """Delete done events finished before the time (their delivery ids are forgotten)."""
        ...

    def queue_depth(self) -> int:
        """Events not finished: pending, running or waiting."""
        ...

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        ...


class Decision(BaseModel):
    """The recorded decision about one version of a model in one environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: str = Field(description="Registry that holds the version.")
    model: str = Field(description="Registered model name.")
    version: str = Field(description="Model version.")
    environment: str = Field(description="Environment the decision is for.")
    outcome: str = Field(description="What was decided, e.g. `proposed`, `rejected`.")
    detail: str = Field(default="", description="Free text: pull request URL, reason, ...")
    decided_at: dt.datetime = Field(description="When it was recorded (UTC).")


class DecisionLog(Protocol):
    """Which model versions already got a decision, so none is proposed twice."""

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
        ...

    def get(self, registry: str, model: str, version: str, environment: str) -> Decision | None:
        """The recorded decision, if any."""
        ...

    def list(self, model: str | None = None) -> list[Decision]:
        """Recorded decisions, oldest first, optionally for one model."""
        ...


class ServiceStore(EventStore, Protocol):
    """What the service hands its handlers: the events and the decisions."""

    @property
    def decisions(self) -> DecisionLog:
        """Which versions already got a decision."""
        ...
