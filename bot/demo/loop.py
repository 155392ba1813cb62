"""The demo's scenario: v1 serves, a better v2 is promoted, reverted, and a worse v3 is rejected."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from github import Auth, Github
from mlflow.tracking import MlflowClient

from bot.app import RegistryPool, TargetPool
from bot.demo.data import ENVIRONMENT, MODEL, DemoData, train
from bot.demo.narration import Narrator
from bot.demo.processes import LOOPBACK, wait_until
from bot.demo.world import (
    REPO,
    UNRELATED_REPO,
    USERS,
    World,
    clone,
    launch_github_and_bot,
    launch_mlflow,
    launch_serving,
    prepare_content,
)
from bot.domain.layout import manifest_path
from bot.domain.manifest import Deployment, ModelManifest, Source
from bot.errors import PromobotError
from bot.formats.writing import dump_manifest
from bot.gitrepo import GitRepo
from bot.recipe import Recipe
from bot.settings import Settings
from bot.training import TrainedVersion
from bot.workflows.apply import apply_changes
from bot.workflows.history import read_history

PATH = manifest_path(MODEL, ENVIRONMENT)


@dataclass
class Scenario:
    """One demo run: the world, the data and what happened so far."""

    world: World
    data: DemoData
    narrator: Narrator
    clients: dict[str, Github] = field(default_factory=dict)

    def github(self, login: str) -> Github:
        """A PyGithub client acting as `login` (reused)."""
        if login not in self.clients:
            auth = Auth.Token(USERS[login])
            self.clients[login] = Github(base_url=self.world.github_api, auth=auth)
        return self.clients[login]

    def close(self) -> None:
        """Close the clients' connections."""
        for client in self.clients.values():
            client.close()
        self.clients.clear()

    def serving_version(self) -> str | None:
        view = LOOPBACK.get(f"{self.world.url('serving')}/v1/models/{MODEL}", timeout=5).json()
        full = [v for v in view.get("versions", []) if v.get("traffic") == 100]
        return str(full[0]["version"]) if full else None

    def predict_body(self) -> dict[str, Any]:
        """Three evaluation rows, as a scoring request's body."""
        import pandas as pd  # noqa: PLC0415 - only for the sample rows

        rows = pd.read_parquet(self.data.eval_path).drop(columns=["churned"]).head(3)
        return {"dataframe_split": rows.to_dict(orient="split", index=False)}

    def predict(self) -> dict[str, Any]:
        reply = LOOPBACK.post(
            f"{self.world.url('serving')}/v1/models/{MODEL}/predict",
            json=self.predict_body(),
            timeout=30,
        )
        reply.raise_for_status()
        return dict(reply.json())

    def wait_serving(self, version: str, timeout: float = 90) -> None:
        for service in self.world.services.started:
            service.check_alive()
        wait_until(lambda: self.serving_version() == version, f"v{version} to serve", timeout, 0.5)
        answer = self.predict()
        self.narrator.say(
            f"prediction from the scoring server: version {answer['version']}, "
            f"predictions {answer['predictions']}"
        )


def first_manifest(v1: TrainedVersion) -> str:
    manifest = ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": MODEL,
            "environment": ENVIRONMENT,
            "version": v1.version,
            "source": Source(uri=f"models:/{MODEL}/{v1.version}", run_id=v1.run_id),
            "metrics": {k: round(v, 6) for k, v in sorted(v1.metrics.items())},
            "deployment": Deployment(endpoint="churn"),
        }
    )
    return dump_manifest(manifest)


def start_everything(scenario: Scenario) -> TrainedVersion:
    """Train v1 straight into MLflow's database, then start all four services at once."""
    world, say = scenario.world, scenario.narrator.say
    (world.workdir / "mlflow").mkdir(parents=True, exist_ok=True)
    MlflowClient(world.database_uri).create_experiment(
        f"{MODEL}-training", artifact_location=world.artifacts_uri
    )
    v1 = train(scenario.data, Recipe.BASELINE, world.database_uri)
    say(f"registered {MODEL} v{v1.version}: " + _metrics(v1))
    content = prepare_content(world, first_manifest(v1), PATH)
    launch_serving(world)
    launch_mlflow(world)
    launch_github_and_bot(world, content)
    world.services.wait_ready()
    say(f"MLflow server {world.tracking_uri} (SQLite backend, sends webhooks)")
    say(f"sandbox GitHub {world.url('github')} (repository {REPO} with policies/ and v1)")
    say(
        f"the GitHub App promobot is installed on {REPO} and {UNRELATED_REPO}; its one webhook "
        f"delivers both to the bot, and only {REPO} holds policies/"
    )
    say(f"bot {world.url('bot')}, scoring server {world.url('serving')}")
    return v1


def deploy_champion(scenario: Scenario, v1: TrainedVersion) -> None:
    """CD's first run: `apply` on a fresh clone deploys what main says (v1)."""
    world, say = scenario.world, scenario.narrator.say
    checkout = clone(world, world.workdir / "bot-checkout")
    cd = Settings(mlflow_tracking_uri=world.tracking_uri, local_target_url=world.url("serving"))
    targets, registries = TargetPool(cd), RegistryPool(cd)
    try:
        with GitRepo(checkout) as repo:
            report = apply_changes(repo, targets, registries=registries, progress=say)
    finally:
        targets.close()
        registries.close()
    if not report.ok:
        raise PromobotError(f"initial deployment failed: {report.failures}")
    scenario.wait_serving(v1.version)


def _metrics(version: TrainedVersion) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in version.metrics.items())


def connect_mlflow_webhook(scenario: Scenario) -> None:
    world = scenario.world
    MlflowClient(world.tracking_uri).create_webhook(
        name="promobot",
        url=f"{world.url('bot')}/webhooks/mlflow",
        events=["model_version.created"],
        secret=world.mlflow_secret,
    )
    scenario.narrator.say("MLflow webhook model_version.created -> the bot (signed)")


def promotion_pull(
    scenario: Scenario, version: str, timeout: float = 120, label: str | None = None
) -> Any:
    repo = scenario.github("alice").get_repo(REPO)
    found: list[Any] = []

    def opened() -> bool:
        for service in scenario.world.services.started:
            service.check_alive()
        for listed in repo.get_pulls(state="all"):
            if not listed.title.endswith(f"{MODEL} v{version} to {ENVIRONMENT}"):
                continue
            pull = repo.get_pull(listed.number)
            if pull.body and (label is None or label in {lb.name for lb in pull.labels}):
                found.append(pull)
                return True
        return False

    wait_until(opened, f"the bot's pull request for v{version}", timeout, 0.5)
    return found[0]


def promote_better(scenario: Scenario) -> Any:
    say = scenario.narrator.say
    v2 = train(scenario.data, Recipe.BETTER, scenario.world.tracking_uri)
    say(f"registered {MODEL} v{v2.version}: " + _metrics(v2))
    pull = promotion_pull(scenario, v2.version)
    repo = scenario.github("alice").get_repo(REPO)
    wait_until(
        lambda: policy_verdict(repo, pull.head.sha) is not None,
        "the policy check on the pull request",
        60,
        0.5,
    )
    pull = repo.get_pull(pull.number)
    teams = ", ".join(t.slug for t in pull.requested_teams) or "none"
    say(f"the bot opened pull request #{pull.number}: {pull.html_url}")
    say(f"its report: {save_report(scenario, pull)}")
    say(
        f"policy check (the App's check run) on {pull.head.sha[:7]}: "
        f"{policy_verdict(repo, pull.head.sha)}; review requested from team(s): {teams}"
    )
    return pull, v2


def policy_verdict(repo: Any, sha: str) -> str | None:
    """The conclusion of the bot's `promobot/policy` check run on `sha`, None until it ran."""
    runs = [r for r in repo.get_commit(sha).get_check_runs() if r.name == "promobot/policy"]
    return runs[-1].conclusion if runs else None


def save_report(scenario: Scenario, pull: Any) -> Path:
    """The bot's report from the pull request body, as a Markdown file to read."""
    folder = scenario.world.workdir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pull-{pull.number}.md"
    path.write_text(str(pull.body), encoding="utf-8")
    return path


def approve_and_merge(scenario: Scenario, pull: Any) -> str:
    say = scenario.narrator.say
    carol = scenario.github("carol").get_repo(REPO).get_pull(pull.number)
    carol.create_review(
        commit=carol.head.repo.get_commit(carol.head.sha), event="APPROVE", body="Looks good."
    )
    say(f"carol (team churn-ds) approved #{pull.number} on {carol.head.sha[:7]}")
    repo = scenario.github("alice").get_repo(REPO)
    wait_until(lambda: repo.get_pull(pull.number).merged, f"#{pull.number} to be merged", 60, 0.5)
    merged = repo.get_pull(pull.number)
    say(f"the bot squash-merged #{pull.number}: commit {merged.merge_commit_sha[:7]} on main")
    return str(merged.merge_commit_sha)


def run_git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def revert(scenario: Scenario, merge_sha: str) -> str:
    person = clone(scenario.world, scenario.world.workdir / "alice-clone")
    run_git(person, "config", "user.name", "Alice")
    run_git(person, "config", "user.email", "alice@example.com")
    run_git(person, "revert", "--no-edit", merge_sha)
    run_git(person, "push", "--quiet", "origin", "main")
    head = run_git(person, "rev-parse", "HEAD")
    scenario.narrator.say(
        f"alice ran `git revert {merge_sha[:7]}` in her clone and pushed {head[:7]}"
    )
    return head


def reject_worse(scenario: Scenario) -> Any:
    say = scenario.narrator.say
    v3 = train(scenario.data, Recipe.WORSE, scenario.world.tracking_uri)
    say(f"registered {MODEL} v{v3.version}: " + _metrics(v3))
    pull = promotion_pull(scenario, v3.version, label="rejected")
    labels = ", ".join(label.name for label in pull.labels)
    say(f"the bot opened #{pull.number} as a draft ({labels}): {pull.html_url}")
    say(f"its report: {save_report(scenario, pull)}")
    failed = [line for line in pull.body.splitlines() if line.startswith("- [ ] **")]
    for line in failed:
        say(f"  {line.removeprefix('- [ ] ')}")
    return pull


def show_history(scenario: Scenario) -> None:
    say = scenario.narrator.say
    person = scenario.world.workdir / "alice-clone"
    run_git(person, "pull", "--quiet")
    with GitRepo(person) as repo:
        for entry in read_history(repo, MODEL, environment=ENVIRONMENT):
            pr = f"#{entry.pull_request}" if entry.pull_request else "-"
            say(
                f"{entry.commit[:7]} {entry.kind.value:<10} v{entry.from_version or '-'} -> "
                f"v{entry.to_version or '-'} {pr:<4} {entry.subject}"
            )
