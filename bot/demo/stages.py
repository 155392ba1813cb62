"""The demo's second act: a policy change answered with its simulation, then a version that
goes through staging before production."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.demo.data import MODEL, train
from bot.demo.loop import (
    Scenario,
    approve_and_merge,
    first_manifest,
    policy_verdict,
    run_git,
    save_report,
)
from bot.demo.processes import LOOPBACK, wait_until
from bot.demo.world import REPO
from bot.domain.layout import manifest_path
from bot.gitrepo import GitRepo
from bot.recipe import Recipe
from bot.training import TrainedVersion
from bot.workflows.simulate import SIMULATION_CHECK, SIMULATION_MARKER
from bot.workflows.status import model_status

POLICY = "policies/churn-team.yaml"
PATH_POLICY = """\
apiVersion: promobot/v1
kind: PromotionPolicy
name: churn-path
description: Churn classifiers prove themselves in staging before production.
applies_to: {models: ["churn-*"], environments: [staging, production]}
stages:
  # A real path soaks for a day (1440); the demo cannot wait that long.
  - {environment: staging, soak_minutes: 0, verify: true}
  - {environment: production}
"""
STAGING_REQUESTS = 25


def simulate_policy_change(scenario: Scenario) -> None:
    """alice proposes a stricter F1 bar; the bot answers with what it would have decided."""
    say = scenario.narrator.say
    repo = scenario.github("alice").get_repo(REPO)
    branch = "stricter-f1"
    repo.create_git_ref(f"refs/heads/{branch}", repo.get_branch("main").commit.sha)
    current = repo.get_contents(POLICY, ref=branch)
    assert not isinstance(current, list), POLICY
    text = current.decoded_content.decode().replace(
        "min_absolute_change: 0.005", "min_absolute_change: 0.15"
    )
    repo.update_file(POLICY, "Require 0.15 more F1", text, current.sha, branch=branch)
    pull = repo.create_pull(
        title="Require 0.15 more F1 before production",
        body="What would this have decided?",
        head=branch,
        base="main",
    )
    say(f"alice opened #{pull.number}: churn-team's min_absolute_change 0.005 -> 0.15")
    found: list[str] = []

    def answered() -> bool:
        for service in scenario.world.services.started:
            service.check_alive()
        found[:] = [c.body for c in pull.get_issue_comments() if SIMULATION_MARKER in c.body]
        return bool(found)

    wait_until(answered, f"the simulation comment on #{pull.number}", 90, 0.5)
    say(f"the bot's simulation comment on #{pull.number}:")
    for line in found[0].splitlines():
        if line.startswith(("|", "1 ", "2 ", "0 ")) or "decisions would change" in line:
            say(f"  {line}")
    head = repo.get_pull(pull.number).head.sha
    runs = [r for r in repo.get_commit(head).get_check_runs() if r.name == SIMULATION_CHECK]
    say(f"check run {SIMULATION_CHECK}: {runs[-1].conclusion if runs else 'none'}")
    pull.edit(state="closed")
    say(f"alice closed #{pull.number} without merging it")


def add_staging(scenario: Scenario, v1: TrainedVersion) -> None:
    """alice adds a staging stage in front of production, with v1 serving there."""
    world, say = scenario.world, scenario.narrator.say
    person = world.workdir / "alice-clone"
    run_git(person, "pull", "--quiet")
    (person / "policies" / "churn-path.yaml").write_text(PATH_POLICY)
    staging = person / manifest_path(MODEL, "staging")
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text(
        first_manifest(v1).replace("environment: production", "environment: staging")
    )
    run_git(person, "add", "policies", "model-manifests")
    run_git(person, "commit", "--quiet", "-m", "Churn models go through staging first")
    run_git(person, "push", "--quiet", "origin", "main")
    say("alice pushed policies/churn-path.yaml (staging, then production) and a staging manifest")
    wait_until(
        lambda: serving_version(scenario, "staging") == v1.version, "v1 to serve in staging", 90
    )
    say(f"CD serves v{v1.version} in staging")


def serving_version(scenario: Scenario, environment: str) -> str | None:
    url = f"{scenario.world.url('serving')}/v1/models/{MODEL}"
    view = LOOPBACK.get(url, params={"environment": environment}, timeout=5).json()
    full = [v for v in view.get("versions", []) if v.get("traffic") == 100]
    return str(full[0]["version"]) if full else None


def promotion_in(scenario: Scenario, version: str, environment: str) -> Any:
    """The bot's open pull request for `version` in `environment`, once its check ran."""
    repo = scenario.github("alice").get_repo(REPO)
    found: list[Any] = []

    def opened() -> bool:
        for service in scenario.world.services.started:
            service.check_alive()
        for listed in repo.get_pulls(state="open"):
            mine = listed.title.endswith(f"{MODEL} v{version} to {environment}")
            if mine and policy_verdict(repo, listed.head.sha) is not None:
                found.append(repo.get_pull(listed.number))
                return True
        return False

    wait_until(opened, f"the pull request for v{version} in {environment}", 180, 0.5)
    return found[0]


def through_staging(scenario: Scenario) -> None:
    """A new version enters staging, serves there, passes verification, then production."""
    say = scenario.narrator.say
    v4 = train(scenario.data, Recipe.BETTER, scenario.world.tracking_uri)
    say(f"registered {MODEL} v{v4.version}; production's path starts in staging")
    staging_pull = promotion_in(scenario, v4.version, "staging")
    say(f"the bot opened #{staging_pull.number} for staging: {staging_pull.html_url}")
    approve_and_merge(scenario, staging_pull)
    wait_until(
        lambda: serving_version(scenario, "staging") == v4.version, "v4 to serve in staging", 90
    )
    rows = scenario.predict_body()
    for _ in range(STAGING_REQUESTS):
        reply = LOOPBACK.post(
            f"{scenario.world.url('serving')}/v1/models/{MODEL}/predict",
            params={"environment": "staging"},
            json=rows,
            timeout=30,
        )
        reply.raise_for_status()
    say(f"{STAGING_REQUESTS} scoring requests to staging; the bot's tick verifies them")
    production_pull = promotion_in(scenario, v4.version, "production")
    evidence = next(
        (line for line in production_pull.body.splitlines() if "Evidence from" in line), ""
    )
    say(f"the bot opened #{production_pull.number} for production: {production_pull.html_url}")
    say(f"  {evidence}")
    say(f"its report: {save_report(scenario, production_pull)}")
    approve_and_merge(scenario, production_pull)
    scenario.wait_serving(v4.version)
    person = scenario.world.workdir / "alice-clone"
    run_git(person, "pull", "--quiet")
    with GitRepo(person) as repo:
        for view in model_status(repo, MODEL, dt.datetime.now(dt.UTC)):
            since = f"{view.served_since:%H:%M:%S}" if view.served_since else "-"
            pr = f"#{view.pull_request}" if view.pull_request else "-"
            where = f"{view.environment:<10} v{view.version} since {since} {pr:<4}"
            say(f"status {where} {view.waiting}")
