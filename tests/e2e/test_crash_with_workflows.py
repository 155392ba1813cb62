"""Crash safety with the real workflows: SIGKILL `promobot serve` in the middle of a burst of
comment commands on a promotion pull request, restart it, have GitHub redeliver everything.

The kill comes at the worst moment: the bot has written its first answer, but GitHub (the
sandbox, told to answer that request late) has not told it so yet. Every accepted delivery
is answered after the restart, and nothing is there twice: one answer per command, one
status comment, the same pull requests and the same main branch.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pytest

from bot.demo.loop import (
    Scenario,
    connect_mlflow_webhook,
    deploy_champion,
    promote_better,
    start_everything,
)
from bot.demo.processes import wait_until
from bot.demo.world import REPO, World, launch_bot
from bot.store.base import StoredEvent
from bot.store.sql import SqlEventStore
from bot.workflows.gate import STATUS_MARKER
from tests.e2e.conftest import send_github
from tests.support.http import LOCAL

BURST = 24
SECONDS_BETWEEN_DELIVERIES = 0.1
FIRST_COMMENT_ID = 880_000


def command_delivery(number: int, comment_id: int) -> bytes:
    """GitHub's `issue_comment` payload for `/promobot explain` on pull request `number`."""
    return json.dumps(
        {
            "action": "created",
            "issue": {"number": number, "pull_request": {"url": "x"}, "state": "open"},
            "comment": {
                "id": comment_id,
                "body": "/promobot explain",
                "user": {"login": "alice"},
            },
            "repository": {"full_name": REPO, "name": "models", "owner": {"login": "acme"}},
            "sender": {"login": "alice"},
        }
    ).encode()


def deliver(scenario: Scenario, number: int, comment_id: int) -> int | None:
    """Send one signed delivery (its id is the comment's); the status, None if the bot is gone."""
    body = command_delivery(number, comment_id)
    secret = scenario.world.github_secret
    return send_github(scenario, body, f"comment-{comment_id}", secret)


def answers(scenario: Scenario, number: int) -> Counter[int]:
    """How many answers the bot wrote to each command comment."""
    issue = scenario.github("alice").get_repo(REPO).get_issue(number)
    found: Counter[int] = Counter()
    for comment in issue.get_comments():
        for comment_id in range(FIRST_COMMENT_ID, FIRST_COMMENT_ID + BURST):
            if f"<!-- promobot:reply-to:{comment_id} -->" in (comment.body or ""):
                found[comment_id] += 1
    return found


def test_sigkill_mid_burst_with_the_workflows(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claims of the killed bot expire after 2 s instead of a minute (both bots read it).
    monkeypatch.setenv("PROMOBOT_LEASE_SECONDS", "2")
    world = scenario.world
    deploy_champion(scenario, start_everything(scenario))
    connect_mlflow_webhook(scenario)
    pull, _ = promote_better(scenario)
    repo = scenario.github("alice").get_repo(REPO)
    pulls_before = sorted(p.number for p in repo.get_pulls(state="all"))
    main_before = repo.get_branch("main").commit.sha

    # The first answer is written, then its HTTP answer is held back for 30 s.
    first_answer = f"/repos/{REPO}/issues/{pull.number}/comments$"
    fault = {"path": first_answer, "method": "POST", "status": None, "count": 1}
    fault |= {"latency_ms": 30_000, "answer_late": True}
    LOCAL.post(f"{world.url('github')}/_sandbox/faults", json=fault).raise_for_status()

    bot = next(service for service in world.services.started if service.name == "bot")
    comment_ids = list(range(FIRST_COMMENT_ID, FIRST_COMMENT_ID + BURST))
    statuses: dict[int, int | None] = {}

    def send_burst() -> None:
        for comment_id in comment_ids:
            statuses[comment_id] = deliver(scenario, pull.number, comment_id)
            time.sleep(SECONDS_BETWEEN_DELIVERIES)

    sender = threading.Thread(target=send_burst)
    sender.start()
    wait_until(lambda: bool(answers(scenario, pull.number)), "the first answer", 60, 0.05)
    os.killpg(bot.process.pid, signal.SIGKILL)
    assert bot.process.wait(timeout=30) == -signal.SIGKILL
    sender.join(timeout=60)
    world.services.started.remove(bot)
    bot.log_file.close()
    accepted = [comment_id for comment_id, status in statuses.items() if status == 202]
    assert set(statuses.values()) == {202, None}, "the kill must fall inside the burst"
    assert len(answers(scenario, pull.number)) == 1 < len(accepted)

    launch_bot(world, "bot-restarted")
    world.services.wait_ready()
    wait_until(
        lambda: set(answers(scenario, pull.number)) >= set(accepted),
        "every accepted command to be answered after the restart",
        120,
        0.5,
    )
    # GitHub's "redeliver" of the whole burst: what was accepted is a duplicate now.
    again = {c: deliver(scenario, pull.number, c) for c in comment_ids}
    assert {again[c] for c in accepted} == {200}
    assert {again[c] for c in comment_ids if c not in accepted} == {202}
    wait_until(
        lambda: set(answers(scenario, pull.number)) == set(comment_ids),
        "every command of the burst to be answered",
        120,
        0.5,
    )

    assert answers(scenario, pull.number) == Counter(dict.fromkeys(comment_ids, 1))
    bodies = [c.body for c in repo.get_issue(pull.number).get_comments()]
    assert sum(STATUS_MARKER in body for body in bodies) == 1
    assert sorted(p.number for p in repo.get_pulls(state="all")) == pulls_before
    assert repo.get_branch("main").commit.sha == main_before
    # The event the killed bot was handling (its answer written) ran again after the
    # restart, and still left one answer.
    assert max(event.attempts for event in stored_events(world)) >= 2


def stored_events(world: World) -> list[StoredEvent]:
    """The bot's event store (SQLite in its state directory)."""
    store = SqlEventStore(f"sqlite:///{world.workdir / 'bot-state' / 'promobot.db'}")
    try:
        return store.list_events(limit=1000)
    finally:
        store.close()
