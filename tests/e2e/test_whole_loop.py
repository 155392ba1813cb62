"""The whole loop on real processes: `mlflow server`, the sandbox GitHub, `promobot serve` and
`promobot serve-models`, exactly as `promobot demo` runs them.

Registering a better version leads to one pull request with the report and a passing status;
a team member's approval leads to a squash merge; CD serves the new version; a push after an
approval blocks the merge until re-approved; `git revert` of the merge serves the old version
again; a worse version follows `on_rejected`; forged and replayed deliveries change nothing.
The App is installed on the whole organisation: a `/promobot merge` on a pull request of the
unrelated `acme/webapp` reaches the bot through the App's webhook and is ignored, and counted.
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bot.demo.loop import (
    MODEL,
    Scenario,
    approve_and_merge,
    connect_mlflow_webhook,
    deploy_champion,
    policy_verdict,
    promote_better,
    reject_worse,
    revert,
    start_everything,
)
from bot.demo.processes import wait_until
from bot.demo.world import REPO, UNRELATED_REPO
from bot.workflows.gate import STATUS_MARKER
from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import send_github
from tests.support.http import LOCAL


def serving(scenario: Scenario) -> dict[str, int]:
    """GET /v1/models/{model}: version -> traffic share."""
    view = LOCAL.get(f"{scenario.world.url('serving')}/v1/models/{MODEL}", timeout=5).json()
    return {v["version"]: v["traffic"] for v in view["versions"] if v["traffic"] > 0}


def git_log(scenario: Scenario) -> list[tuple[str, int, str]]:
    """(sha, number of parents, subject) of main in the sandbox's bare repository, newest first."""
    import subprocess

    out = subprocess.run(
        ["git", "log", "--format=%H %P%x09%s", "main"],
        cwd=scenario.world.bare_repo(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        shas, subject = line.split("\t", 1)
        parts = shas.split()
        rows.append((parts[0], len(parts) - 1, subject))
    return rows


def status_comment(scenario: Scenario, number: int) -> str:
    repo = scenario.github("alice").get_repo(REPO)
    bodies = [c.body for c in repo.get_issue(number).get_comments() if STATUS_MARKER in c.body]
    assert len(bodies) <= 1, "the status comment must be edited in place, not repeated"
    return bodies[0] if bodies else ""


def counts(scenario: Scenario) -> tuple[int, int]:
    """(pull requests, comments) in the sandbox repository."""
    repo = scenario.github("alice").get_repo(REPO)
    pulls = list(repo.get_pulls(state="all"))
    comments = sum(repo.get_issue(p.number).comments for p in pulls)
    return len(pulls), comments


def ignored_events(scenario: Scenario) -> dict[str, float]:
    """The bot's `/metrics`: events from repositories it does not serve, by kind."""
    text = LOCAL.get(f"{scenario.world.url('bot')}/metrics", timeout=5).text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "promobot_foreign_events_ignored"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def models_state(scenario: Scenario) -> tuple[Any, ...]:
    """What a command could change in acme/models: main, and each pull request's state."""
    repo = scenario.github("alice").get_repo(REPO)
    pulls = [
        (p.number, p.state, p.merged, p.head.sha, sorted(lb.name for lb in p.labels))
        for p in repo.get_pulls(state="all")
    ]
    return repo.get_branch("main").commit.sha, pulls, counts(scenario)


def unrelated_repository_is_left_alone(scenario: Scenario) -> None:
    """A command on a pull request of acme/webapp (no policies/) changes nothing anywhere."""
    before, ignored = models_state(scenario), ignored_events(scenario)
    webapp = scenario.github("alice").get_repo(UNRELATED_REPO)
    main = webapp.get_branch("main").commit.sha
    webapp.create_git_ref("refs/heads/faster-page", main)
    webapp.create_file("CHANGELOG.md", "Note the faster page", "- faster page\n", "faster-page")
    pull = webapp.create_pull(base="main", head="faster-page", title="Faster page", body="")
    pull.create_issue_comment("/promobot merge")
    # The branch's push, the pull request and the command: each ignored, and counted.
    kinds = ("pushed", "pull_request_changed", "comment_created")

    def all_ignored() -> bool:
        now = ignored_events(scenario)
        return all(now.get(kind, 0) > ignored.get(kind, 0) for kind in kinds)

    wait_until(all_ignored, "the bot to ignore the events of acme/webapp", 60, 0.5)
    pull = webapp.get_pull(pull.number)
    assert not pull.merged and pull.state == "open" and not list(pull.labels)
    assert [c.user.login for c in pull.get_issue_comments()] == ["alice"]
    users, teams = pull.get_review_requests()
    assert not list(users) and not list(teams) and not list(pull.get_reviews())
    head = webapp.get_commit(pull.head.sha)
    assert not list(head.get_statuses()) and not list(head.get_check_runs())
    assert webapp.get_branch("main").commit.sha == main
    log = LOCAL.get(f"{scenario.world.url('github')}/_sandbox/requests", timeout=10).json()
    bot_calls = [
        (entry["method"], entry["path"].partition("?")[0])
        for entry in log
        if f"/repos/{UNRELATED_REPO}/" in entry["path"]
        and (entry["identity"] or {}).get("kind") in ("app", "installation")
    ]
    # The App looks whether the repository holds policies/, and otherwise leaves it alone.
    looked = f"/repos/{UNRELATED_REPO}/contents/policies"
    assert bot_calls, "the App never looked at acme/webapp"
    assert all(method == "GET" and path.endswith(looked) for method, path in bot_calls), bot_calls
    assert models_state(scenario) == before


def hold_push_and_reapprove(scenario: Scenario, pull: Any) -> None:
    """Hold, approve, push to the branch, unhold: the old approval no longer counts."""
    alice = scenario.github("alice").get_repo(REPO)
    alice.get_issue(pull.number).create_comment("/promobot hold")
    wait_until(
        lambda: "promobot:hold" in {lb.name for lb in alice.get_pull(pull.number).labels},
        "the hold label",
        60,
        0.5,
    )
    carol = scenario.github("carol").get_repo(REPO).get_pull(pull.number)
    carol.create_review(commit=carol.head.repo.get_commit(carol.head.sha), event="APPROVE")
    # A person's commit on the promotion branch (it may change only the manifest).
    path = f"model-manifests/production/{MODEL}.yaml"
    manifest = alice.get_contents(path, ref=pull.head.ref)
    alice.update_file(
        path,
        "Note the retrain",
        manifest.decoded_content.decode() + "# retrained on the November data\n",  # type: ignore[union-attr]
        manifest.sha,  # type: ignore[union-attr]
        branch=pull.head.ref,
    )
    new_head = alice.get_pull(pull.number).head.sha
    alice.get_issue(pull.number).create_comment("/promobot unhold")

    def blocked_on_new_head() -> bool:
        body = status_comment(scenario, pull.number)
        return (
            f"`{new_head[:7]}`" in body
            and "- [ ] **approvals**" in body
            and "- [x] **no-hold**" in body
        )

    wait_until(blocked_on_new_head, "the bot to refuse the stale approval on the new head", 90, 0.5)
    assert not alice.get_pull(pull.number).merged


def test_whole_loop_on_real_processes(scenario: Scenario) -> None:
    """The product's promise, end to end, asserted at every step."""
    print("ports:", scenario.world.ports)
    v1 = start_everything(scenario)
    deploy_champion(scenario, v1)
    assert serving(scenario) == {v1.version: 100}
    assert scenario.predict()["version"] == v1.version
    connect_mlflow_webhook(scenario)

    pull, v2 = promote_better(scenario)
    repo = scenario.github("alice").get_repo(REPO)
    assert [p.number for p in repo.get_pulls(state="all")] == [pull.number]
    assert "| f1 |" in pull.body and "<!-- promobot:begin -->" in pull.body
    assert policy_verdict(repo, pull.head.sha) == "success"

    hold_push_and_reapprove(scenario, pull)
    merge_sha = approve_and_merge(scenario, pull)
    scenario.wait_serving(v2.version)
    assert serving(scenario) == {v2.version: 100}
    assert scenario.predict()["version"] == v2.version
    log = git_log(scenario)
    assert log[0] == (merge_sha, 1, f"Promote {MODEL} v{v2.version} to production (#{pull.number})")
    assert len(log) == 2, "one squash commit per promotion on top of the initial commit"

    revert_sha = revert(scenario, merge_sha)
    scenario.wait_serving(v1.version)
    assert serving(scenario) == {v1.version: 100}
    log = git_log(scenario)
    assert log[0][0] == revert_sha and log[0][2].startswith('Revert "Promote')
    assert len(log) == 3

    def deployment_statuses() -> list[list[str]]:
        return [[s.state for s in reversed(list(d.get_statuses()))] for d in repo.get_deployments()]

    wait_until(
        lambda: all(s[-1:] == ["success"] for s in deployment_statuses()),
        "CD to record the deployments' outcome",
        30,
        0.5,
    )
    statuses = deployment_statuses()
    assert statuses == [["in_progress", "success"]] * 2, (
        "one for the promotion, one for the rollback"
    )

    rejected = reject_worse(scenario)
    assert rejected.draft
    assert "rejected" in {lb.name for lb in rejected.labels}
    assert policy_verdict(repo, rejected.head.sha) == "failure"
    assert serving(scenario) == {v1.version: 100}

    before = counts(scenario)
    body = re.sub(rb"\s+", b" ", (PROJECT_ROOT / "tests" / "e2e" / "comment.json").read_bytes())
    body = body.replace(b"__NUMBER__", str(pull.number).encode())
    assert send_github(scenario, body, "forged-1", "not-the-secret") == 401
    assert send_github(scenario, body, "replay-1", scenario.world.github_secret) in (200, 202)
    assert send_github(scenario, body, "replay-1", scenario.world.github_secret) in (200, 202)
    wait_until(
        lambda: counts(scenario) != before, "the one accepted command to be answered", 60, 0.5
    )
    after = counts(scenario)
    assert after == (before[0], before[1] + 1), "the replayed delivery must not be processed twice"

    unrelated_repository_is_left_alone(scenario)
