"""Domain events: serialisation keys and the round trip through the store's JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.manifest import RegistryKind
from bot.webhooks.events import (
    CheckRunCompleted,
    CommentCreated,
    DomainEvent,
    ModelVersionCreated,
    PullRequestChanged,
    Pushed,
    ReviewSubmitted,
    StatusChanged,
    Tick,
    event_from_payload,
    event_to_payload,
)

EXAMPLES: list[tuple[DomainEvent, str]] = [
    (ModelVersionCreated(registry=RegistryKind.MLFLOW, model="churn", version="7"), "model:churn"),
    (
        ModelVersionCreated(
            registry=RegistryKind.AZUREML, model="churn", version="7", environment="production"
        ),
        "model:churn@production",
    ),
    (
        PullRequestChanged(
            repo="o/r",
            number=4,
            action="labeled",
            head_sha="a" * 40,
            head_ref="promobot/p/m",
            base_ref="main",
            labels=("hold",),
            label="hold",
        ),
        "pr:o/r#4",
    ),
    (
        ReviewSubmitted(
            repo="o/r",
            number=4,
            action="submitted",
            state="approved",
            user="ana",
            commit_id="a" * 40,
            review_id=1,
            head_sha="a" * 40,
        ),
        "pr:o/r#4",
    ),
    (
        CommentCreated(
            repo="o/r",
            number=4,
            user="ana",
            body="/promobot merge",
            comment_id=9,
            is_pull_request=True,
        ),
        "pr:o/r#4",
    ),
    (
        StatusChanged(repo="o/r", sha="b" * 40, context="ci", state="success"),
        f"commit:o/r@{'b' * 40}",
    ),
    (
        CheckRunCompleted(
            repo="o/r", head_sha="c" * 40, name="t", conclusion="success", pull_numbers=(4,)
        ),
        "pr:o/r#4",
    ),
    (
        CheckRunCompleted(
            repo="o/r", head_sha="c" * 40, name="t", conclusion=None, pull_numbers=(4, 5)
        ),
        f"commit:o/r@{'c' * 40}",
    ),
    (
        Pushed(repo="o/r", ref="refs/heads/main", before="0" * 40, after="d" * 40),
        "ref:o/r@refs/heads/main",
    ),
    (Tick(now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), "tick"),
]


@pytest.mark.parametrize(("event", "key"), EXAMPLES)
def test_each_event_names_its_serialisation_key(event: DomainEvent, key: str) -> None:
    """Same (model, environment) or same pull request: one at a time."""
    assert event.serialisation_key == key


@pytest.mark.parametrize(("event", "key"), EXAMPLES)
def test_events_survive_the_round_trip_through_the_store(event: DomainEvent, key: str) -> None:
    """Workers rebuild exactly the event the endpoint stored."""
    del key
    restored = event_from_payload(event_to_payload(event))
    assert restored == event
    assert type(restored) is type(event)


def test_events_are_frozen() -> None:
    """A handler cannot change an event another retry will see."""
    event = Pushed(repo="o/r", ref="r", before="a", after="b")
    with pytest.raises(ValueError, match="frozen"):
        event.ref = "x"  # type: ignore[misc]
