"""A pull request that changes `policies/` is answered with what the change would have
decided: the decisions recorded by earlier promotions in the same test, replayed under the
new policy, each flipped verdict checked against `decide()` run directly."""

from __future__ import annotations

import subprocess
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.main import app
from bot.domain.record import DecisionRecord, record_path
from bot.domain.resolution import resolve_policy
from bot.domain.verdict import Outcome, decide
from bot.forge.base import CheckConclusion
from bot.recipe import Recipe
from bot.webhooks.events import PullRequestChanged
from bot.workflows.inputs import read_policies
from bot.workflows.simulate import SIMULATION_CHECK, SIMULATION_MARKER, simulate_pull_request
from tests.stages.conftest import STAGING_POLICY, Staged
from tests.support.github_sandbox import REPO_NAME
from tests.support.mlflow_models import MODEL

POLICY = "policies/churn-staging.yaml"
STRICTER = STAGING_POLICY.replace(
    "primary: {metric: f1, significance: null}",
    "primary: {metric: f1, min_absolute_change: 0.0, significance: null}",
)


def _decided_twice(staged: Staged) -> tuple[int, int]:
    """v2 promoted into staging (merged), then v3 proposed for staging (still open)."""
    staged.registered(Recipe.BETTER)
    [first] = staged.open_promotions("staging")
    staged.approve_and_merge(first)
    staged.tick()  # finds v3 in the registry and proposes it
    [second] = staged.open_promotions("staging")
    return first, second


def _policy_pull_request(staged: Staged, text: str) -> int:
    repo = staged.world.sandbox.github("bob").get_repo(REPO_NAME)
    main = repo.get_branch("main")
    repo.create_git_ref("refs/heads/tighter-staging", main.commit.sha)
    current = repo.get_contents(POLICY, ref="tighter-staging")
    repo.update_file(
        POLICY, "Staging: f1 may not drop", text, current.sha, branch="tighter-staging"
    )  # type: ignore[union-attr]
    pull = repo.create_pull(title="Stricter staging", body="", head="tighter-staging", base="main")
    return pull.number


def _opened(staged: Staged, number: int, action: str = "opened") -> None:
    pr = staged.world.forge.get_pull_request(number)
    staged.workflows.handle(
        PullRequestChanged(
            repo=REPO_NAME,
            number=number,
            action=action,
            head_sha=pr.head_sha,
            head_ref=pr.head_ref,
            base_ref=pr.base_ref,
        )
    )


def test_a_policy_change_is_answered_with_the_verdicts_it_would_flip(staged: Staged) -> None:
    first, second = _decided_twice(staged)
    v2, v3 = staged.version(Recipe.BETTER), staged.version(Recipe.WORSE)
    number = _policy_pull_request(staged, STRICTER)
    _opened(staged, number)

    forge = staged.world.forge
    [comment] = [c for c in forge.list_comments(number) if SIMULATION_MARKER in c.body]
    assert f"1 of 2 decisions would change: v{v3} ({MODEL}, staging) promote → reject" in (
        comment.body
    )
    assert "primary-min-absolute-change" in comment.body
    head = forge.get_pull_request(number).head_sha
    [run] = [r for r in forge.get_checks(head).check_runs if r.name == SIMULATION_CHECK]
    assert run.conclusion == CheckConclusion.NEUTRAL

    # Every replayed verdict is what decide() gives on the record's own evidence.
    new = read_policies(forge, head)
    recorded = {
        v2: forge.read_file(record_path(MODEL, "staging")),
        v3: forge.read_file(record_path(MODEL, "staging"), forge.get_pull_request(second).head_sha),
    }
    simulation = simulate_pull_request(staged.world.services, forge.get_pull_request(number))
    assert simulation is not None and len(simulation.replays) == 2
    for replay in simulation.replays:
        record = DecisionRecord.model_validate_json(recorded[replay.version] or "")
        direct = decide(record.comparison, resolve_policy(new, MODEL, "staging"))
        assert replay.old is record.verdict is Outcome.PROMOTE
        assert replay.new is direct.verdict
        assert replay.changed is (direct.verdict is not record.verdict)
    assert [r.version for r in simulation.changed] == [v3]
    assert first != second

    # Later pushes update the one comment in place.
    _push(staged, STAGING_POLICY.replace("outright;", "outright, and"), "Reword")
    _opened(staged, number, "synchronize")
    comments = [c for c in forge.list_comments(number) if SIMULATION_MARKER in c.body]
    assert [c.id for c in comments] == [comment.id]
    assert "0 of 2 decisions would change" in comments[0].body
    _push(staged, STAGING_POLICY, "As it was")
    _opened(staged, number, "synchronize")
    comments = [c for c in forge.list_comments(number) if SIMULATION_MARKER in c.body]
    assert [c.id for c in comments] == [comment.id]
    assert "no longer changes `policies/`" in comments[0].body


def _push(staged: Staged, text: str, message: str) -> None:
    repo = staged.world.sandbox.github("bob").get_repo(REPO_NAME)
    current = repo.get_contents(POLICY, ref="tighter-staging")
    branch = "tighter-staging"
    repo.update_file(POLICY, message, text, current.sha, branch=branch)  # type: ignore[union-attr]


def test_simulate_replays_a_policy_file_over_the_records_of_a_clone(
    staged: Staged, tmp_path: Path
) -> None:
    _decided_twice(staged)
    v3 = staged.version(Recipe.WORSE)
    clone = tmp_path / "clone"
    bare = staged.world.sandbox.bare_path(REPO_NAME)
    subprocess.run(["git", "clone", "--quiet", str(bare), str(clone)], check=True)
    edited = clone / POLICY
    edited.write_text(STRICTER)

    result = CliRunner().invoke(
        app, ["simulate", "--policy", str(edited), "--repo", str(clone), "--last", "5"]
    )
    assert result.exit_code == 0, result.output
    # The clone holds the merged v2 record and, on its promobot/ branch, v3's.
    assert f"1 of 2 decisions would change: v{v3} ({MODEL}, staging) promote → reject" in (
        result.output
    )

    broken = tmp_path / "broken.yaml"
    broken.write_text(STRICTER.replace("significance: null", "significance: 2"))
    result = CliRunner().invoke(app, ["simulate", "--policy", str(broken), "--repo", str(clone)])
    assert result.exit_code == 2
    assert "compare.primary.significance" in result.output
