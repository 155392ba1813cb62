"""Promotion through stages against the sandbox GitHub and a real MLflow: a version enters
staging through the normal proposal and goes on to production only after its soak and its
verification there. Time is injected (`Staged.now`), never slept."""

from __future__ import annotations

import datetime as dt
from typing import Any

from github import GithubException

from bot.domain.record import DecisionRecord, record_path
from bot.forge.base import PullState
from bot.recipe import Recipe
from bot.workflows.gate import STATUS_MARKER
from bot.workflows.stage_views import stage_views
from tests.stages.conftest import Staged
from tests.support.github_sandbox import REPO_NAME
from tests.support.mlflow_models import MODEL

MINUTE = dt.timedelta(minutes=1)


def _into_staging(staged: Staged, recipe: Recipe = Recipe.BETTER) -> tuple[int, dt.datetime]:
    """The version is registered, proposed for staging (the path's first stage), merged."""
    staged.registered(recipe)
    [number] = staged.open_promotions("staging")
    return number, staged.approve_and_merge(number)


def _record(staged: Staged, number: int, environment: str = "production") -> DecisionRecord:
    pr = staged.world.forge.get_pull_request(number)
    text = staged.world.forge.read_file(record_path(MODEL, environment), pr.head_sha)
    assert text is not None, "the promotion commit writes the decision record"
    return DecisionRecord.model_validate_json(text)


def _merge_as_a_person(pull: Any, attempts: int = 10) -> None:
    """Merge as people do: GitHub answers 405 while it computes mergeability; try again."""
    for _ in range(attempts):
        try:
            pull.merge(merge_method="squash")
            return
        except GithubException as error:
            if error.status != 405:
                raise
            pull.update()
    raise AssertionError(f"#{pull.number} could not be merged in {attempts} attempts")


def test_a_new_version_enters_the_first_stage_not_the_environment_configured(
    staged: Staged,
) -> None:
    """The service is configured for production; the policy's path starts in staging."""
    staged.registered(Recipe.BETTER)
    assert len(staged.open_promotions("staging")) == 1
    assert staged.open_promotions("production") == []


def test_a_version_that_soaked_and_passed_in_staging_is_proposed_for_production_with_evidence(
    staged: Staged,
) -> None:
    staging_pr, merged_at = _into_staging(staged)
    v2 = staged.version(Recipe.BETTER)
    staged.health.serve(v2, requests=500, errors=1, p99=35.0)

    staged.now = merged_at + 30 * MINUTE
    staged.tick()
    assert staged.open_promotions("production") == [], "30 of its 60 minutes in staging"
    [view, production_view] = stage_views(staged.world.services, MODEL, "staging", staged.now)
    assert (view.environment, view.version, view.served_since) == ("staging", v2, merged_at)
    assert view.waiting.startswith("its soak, until ")
    assert production_view.version == staged.version(Recipe.BASELINE)

    staged.now = merged_at + 61 * MINUTE
    staged.tick()
    [number] = staged.open_promotions("production")
    body = staged.world.forge.get_pull_request(number).body
    assert f"**Evidence from `staging`** (promoted in #{staging_pr})" in body
    assert "500 request(s), error rate 0.20%, p99 35 ms" in body
    record = _record(staged, number)
    assert record.environment == "production" and record.version == v2
    assert record.stage is not None
    assert (record.stage.environment, record.stage.requests, record.stage.errors) == (
        "staging",
        500,
        1,
    )
    assert record.stage.served_since == merged_at
    assert record.stage.pull_request == staging_pr
    assert record.stage.skipped_soak is None

    staged.tick()
    assert staged.open_promotions("production") == [number], "proposed once"
    [status] = [c.body for c in staged.world.forge.list_comments(number) if STATUS_MARKER in c.body]
    assert f"| staging | v{v2} (#{staging_pr}) |" in status
    assert f"| production | v{staged.version(Recipe.BASELINE)} |" in status
    assert f"| v{v2} in #{number} |" in status


def test_a_version_failing_verification_in_staging_is_never_proposed_for_production(
    staged: Staged,
) -> None:
    _staging_pr, merged_at = _into_staging(staged)
    v2 = staged.version(Recipe.BETTER)
    staged.health.serve(v2, requests=200, errors=40)
    staged.now = merged_at + 61 * MINUTE
    staged.tick()
    assert staged.open_promotions("production") == []
    rejected = staged.store.decisions.get("mlflow", MODEL, v2, "production")
    assert rejected is not None and rejected.outcome == "rejected"
    assert "error rate 20.00%" in rejected.detail

    staged.health.serve(v2, requests=5000, errors=40)  # within limits now: still rejected
    staged.now += 60 * MINUTE
    staged.tick()
    assert staged.open_promotions("production") == []


def test_a_version_without_traffic_in_staging_waits(staged: Staged) -> None:
    """`verify: true` needs readings: no traffic is no evidence, and nothing is rejected."""
    _staging_pr, merged_at = _into_staging(staged)
    staged.now = merged_at + 120 * MINUTE
    staged.tick()
    assert staged.open_promotions("production") == []
    assert (
        staged.store.decisions.get("mlflow", MODEL, staged.version(Recipe.BETTER), "production")
        is None
    )


def test_a_newer_version_in_staging_supersedes_the_older_one_waiting_for_production(
    staged: Staged,
) -> None:
    _staging_pr, merged_at = _into_staging(staged)
    v2, v3 = staged.version(Recipe.BETTER), staged.version(Recipe.WORSE)
    staged.health.serve(v2, requests=500, errors=0)
    staged.now = merged_at + 61 * MINUTE
    staged.tick()
    [waiting] = staged.open_promotions("production")
    # The same tick found v3 in the registry (MLflow does not redeliver webhooks) and
    # proposed it for staging, whose policy lets it in.
    [newer] = staged.open_promotions("staging")
    staged.approve_and_merge(newer)

    staged.now += 5 * MINUTE
    staged.tick()
    closed = staged.world.forge.get_pull_request(waiting, with_files=False)
    assert closed.state is PullState.CLOSED and not closed.merged
    said = [c.body for c in staged.world.forge.list_comments(waiting)]
    assert any(f"v{v3} now serves in staging and supersedes v{v2}" in text for text in said)
    assert staged.open_promotions("production") == [], "v3 waits for its own soak"
    assert staged.store.decisions.get("mlflow", MODEL, v2, "production") is not None


def test_a_version_rolled_back_in_staging_is_rejected_for_production(staged: Staged) -> None:
    staging_pr, merged_at = _into_staging(staged)
    v2 = staged.version(Recipe.BETTER)
    staged.health.serve(v2, requests=500, errors=0)
    staged.now = merged_at + 61 * MINUTE
    staged.tick()
    [waiting] = staged.open_promotions("production")

    staged.comment("carol", staging_pr, "/promobot rollback")
    repo = staged.world.sandbox.github("alice").get_repo(REPO_NAME)
    [revert] = [p for p in repo.get_pulls(state="open") if p.title.startswith("Revert")]
    _merge_as_a_person(revert)

    staged.now += 5 * MINUTE
    staged.tick()
    closed = staged.world.forge.get_pull_request(waiting, with_files=False)
    assert closed.state is PullState.CLOSED and not closed.merged
    said = [c.body for c in staged.world.forge.list_comments(waiting)]
    assert any(
        f"v{v2} no longer serves in staging (rolled back to v1): it is rejected for production"
        in text
        for text in said
    )
    # Its proposal is the decision the log keeps: v2 is never proposed for production again.
    assert staged.store.decisions.get("mlflow", MODEL, v2, "production") is not None
    staged.now += 120 * MINUTE
    staged.tick()
    assert staged.open_promotions("production") == []


def test_skipping_the_soak_is_refused_to_a_non_owner_and_recorded_for_an_owner(
    staged: Staged,
) -> None:
    staging_pr, merged_at = _into_staging(staged)
    v2 = staged.version(Recipe.BETTER)
    staged.health.serve(v2, requests=80, errors=0)
    staged.now = merged_at + 2 * MINUTE

    staged.comment("bob", staging_pr, "/promobot promote --skip-soak customers are waiting")
    assert staged.open_promotions("production") == []
    replies = [c.body for c in staged.world.forge.list_comments(staging_pr)]
    assert any("only the policy's owners (ml-reviewers) may skip a soak" in r for r in replies)

    staged.comment("carol", staging_pr, "/promobot promote --skip-soak fixes INC-42")
    [number] = staged.open_promotions("production")
    record = _record(staged, number)
    assert record.stage is not None and record.stage.skipped_soak is not None
    assert (record.stage.skipped_soak.by, record.stage.skipped_soak.reason) == (
        "carol",
        "fixes INC-42",
    )
    body = staged.world.forge.get_pull_request(number).body
    assert "The soak was skipped by @carol: fixes INC-42" in body
