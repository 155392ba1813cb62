"""The demo's script: every act of the loop, in order, with the transcript's stages."""

from __future__ import annotations

from bot.demo.data import MODEL, prepare_data
from bot.demo.loop import (
    Scenario,
    approve_and_merge,
    connect_mlflow_webhook,
    deploy_champion,
    promote_better,
    reject_worse,
    revert,
    show_history,
    start_everything,
)
from bot.demo.narration import Narrator
from bot.demo.stages import add_staging, simulate_policy_change, through_staging
from bot.demo.world import REPO, World


def run_loop(world: World, narrator: Narrator) -> None:
    """The whole loop. Services are left running; the caller stops them."""
    workdir = world.workdir
    scenario = Scenario(world, prepare_data(workdir), narrator)
    with narrator.stage("Train champion v1; start MLflow, sandbox GitHub, the bot, scoring"):
        v1 = start_everything(scenario)
    with narrator.stage("CD deploys v1 (promobot apply on a clone of main)"):
        deploy_champion(scenario, v1)
        connect_mlflow_webhook(scenario)
    with narrator.stage("Retrain: v2 is registered; the bot evaluates it and opens a pull request"):
        pull, v2 = promote_better(scenario)
    with narrator.stage("A team member approves; the bot merges; CD deploys v2"):
        merge_sha = approve_and_merge(scenario, pull)
        scenario.wait_serving(v2.version)
    with narrator.stage("Roll back with `git revert` of the merge commit; CD serves v1 again"):
        revert(scenario, merge_sha)
        scenario.wait_serving("1")
    with narrator.stage("A worse v3 is registered; the policy rejects it"):
        reject_worse(scenario)
    with narrator.stage("History, read from git"):
        show_history(scenario)
    with narrator.stage("A policy change is answered with what it would have decided"):
        simulate_policy_change(scenario)
    with narrator.stage("Staging before production: a new version serves in staging first"):
        add_staging(scenario, v1)
        through_staging(scenario)
    scenario.close()
    narrator.say(f"promotion board: {world.url('bot')}/")
    narrator.say(f"pull requests: {world.url('github')}/{REPO}/pulls")
    narrator.say(f"scoring endpoint: {world.url('serving')}/v1/models/{MODEL}")
    narrator.say(f"reports and logs: {workdir}")
    narrator.say(f"history: promobot history {MODEL} --repo {workdir / 'alice-clone'}")
