"""The board in a real browser: headless Chromium against `promobot serve`'s app, wired to
the sandbox GitHub and a real scoring server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.domain.comparison import Task
from bot.formats.loading import load_manifest_text
from bot.workflows.gate import merge_message
from tests.board.browser import Page
from tests.board.world import DECIDED, BoardWorld, clone, multiclass_curves, record_text
from tests.cd.support import BOB, GitOpsRepo, manifest_text
from tests.support.github_sandbox import REPO_NAME
from tests.support.http import LOCAL


def served_versions(world: BoardWorld, model: str, environment: str) -> dict[str, int]:
    """What the scoring server answers for (model, environment): version -> traffic."""
    answer = LOCAL.get(
        f"{world.scoring.url}/v1/models/{model}", params={"environment": environment}
    )
    if answer.status_code == 404:
        return {}
    versions = answer.json()["versions"]
    return {v["version"]: v["traffic"] for v in versions if v["traffic"] > 0}


def test_grid_shows_what_the_scoring_server_serves(
    world: BoardWorld, page: Page, tmp_path: Path
) -> None:
    """Operators read the grid instead of asking each endpoint: every cell must say what the
    scoring server itself answers, its traffic figures too, and a drift must stand out."""
    rows = {"records": [{"a": 0.5, "b": 0.1, "c": 0.0, "d": 1.0}]}
    for _ in range(3):
        LOCAL.post(
            f"{world.scoring.url}/v1/models/churn-classifier/predict",
            params={"environment": "production"},
            json=rows,
        ).raise_for_status()
    page.open(world.url + "/", width=1280)
    assert page.errors() == []
    cells = page.evaluate(
        """[...document.querySelectorAll('td.cell')].map(td => ({
            model: td.dataset.model, environment: td.dataset.environment,
            status: td.className.replace('cell ', ''),
            serving: td.querySelector('.serving')?.innerText ?? null,
            wanted: td.querySelector('.wanted')?.innerText ?? null}))"""
    )
    shown = {(c["model"], c["environment"]): c for c in cells}
    for (model, environment), cell in shown.items():
        if cell["status"] == "not-deployed":
            continue
        answer = served_versions(world, model, environment)
        expected = ", ".join(
            f"v{v}" + ("" if s == 100 else f" {s}%") for v, s in sorted(answer.items())
        )
        assert cell["serving"] == (expected or "nothing"), (model, environment)
    logistic, boosted = world.versions.version("logistic"), world.versions.version("boosted")
    assert shown[("fraud-detector", "production")]["status"] == "drift"
    assert shown[("fraud-detector", "production")]["wanted"] == f"v{logistic}"
    assert shown[("churn-classifier", "staging")]["status"] == "in-sync"
    assert shown[("churn-classifier", "production")]["serving"] == f"v{logistic}"
    production = "td[data-model='churn-classifier'][data-environment='production'] .health"
    assert page.text(production).startswith(f"v{logistic}: 3 request(s), 0 error(s)")
    assert shown[("demand-forecast", "production")]["status"] == "drift"
    headers = page.evaluate("[...document.querySelectorAll('thead th')].map(th => th.innerText)")
    assert headers == ["Model", "staging", "production"]
    assert f"#{world.promotion} v{boosted}" in page.text(
        "td[data-model='churn-classifier'][data-environment='production']"
    )
    page.screenshot(tmp_path / "board-1280.png")
    page.open(world.url + "/", width=400)
    assert page.errors() == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    page.screenshot(tmp_path / "board-400.png")


def test_model_page_shows_readiness_history_and_charts(
    world: BoardWorld, page: Page, tmp_path: Path
) -> None:
    """A reviewer opens one model: the open promotion with each readiness rule and what it
    waits for, and the last evaluation's curves, each chart with its text alternative."""
    page.open(f"{world.url}/models/churn-classifier", width=1280)
    assert page.errors() == []
    rules = page.evaluate(
        """[...document.querySelectorAll('table.rules tbody tr')].map(tr => [
            tr.querySelector('th').innerText, tr.className,
            tr.querySelector('td:last-child').innerText])"""
    )
    by_name = {name: (state, detail) for name, state, detail in rules}
    assert by_name["policy-verdict"][0] == "passed"
    assert by_name["approvals"][0] == "waiting"
    assert "0 of 1 approval(s)" in by_name["approvals"][1]
    assert "ml-reviewers" in by_name["approvals"][1]
    charts = page.evaluate(
        """[...document.querySelectorAll('figure.chart')].map(f => ({
            title: f.querySelector('svg > title')?.textContent,
            desc: f.querySelector('svg > desc')?.textContent,
            role: f.querySelector('svg')?.getAttribute('role'),
            lines: f.querySelectorAll('svg polyline').length,
            rows: f.querySelectorAll('table tbody tr').length,
            caption: f.querySelector('figcaption')?.innerText}))"""
    )
    assert [c["title"] for c in charts] == ["ROC curve", "Calibration"]
    for chart in charts:
        assert chart["role"] == "img"
        assert chart["desc"] and chart["caption"]
        assert chart["lines"] == 3  # the reference, the champion and the challenger
        assert chart["rows"] > 2
    page.screenshot(tmp_path / "model-1280.png")
    page.open(f"{world.url}/models/churn-classifier", width=400)
    assert page.errors() == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    page.screenshot(tmp_path / "model-400.png")


def test_a_git_revert_shows_as_a_rollback_with_its_reason(
    world: BoardWorld, page: Page, tmp_path: Path
) -> None:
    """Rollback is a `git revert` pushed by a person: the board's history must show it, with
    the reason its message gives, linked to the promotion it undoes."""
    number, boosted = world.promotion, world.versions.version("boosted")
    head = world.forge.get_pull_request(number).head_sha
    world.sandbox.http("carol").post(
        f"/repos/{REPO_NAME}/pulls/{number}/reviews",
        json={"event": "APPROVE", "commit_id": head},
    ).raise_for_status()
    path = "model-manifests/production/churn-classifier.yaml"
    manifest = load_manifest_text(world.forge.read_file(path, head) or "", path)
    merged = world.forge.merge(
        number,
        expected_head_sha=head,
        title=f"Promote churn-classifier v{boosted} to production (#{number})",
        message=merge_message(manifest, head, ["carol"]),
    )
    page.open(f"{world.url}/models/churn-classifier")
    promotion = page.text("table.history tbody tr")
    assert "promotion" in promotion and "approved by carol" in promotion
    assert f"#{number}" in promotion

    person = GitOpsRepo(clone(world.sandbox, tmp_path / "person"), init=False)
    person.git("revert", "--no-edit", merged.sha, author=BOB)
    subject = person.git("log", "-1", "--format=%s")
    person.git(
        "commit",
        "--amend",
        "-m",
        subject,
        "-m",
        f"This reverts commit {merged.sha}.",
        "-m",
        f"v{boosted} doubled the error rate of production.",
        author=BOB,
    )
    person.git("push", "--quiet", "origin", "main", author=BOB)

    page.open(f"{world.url}/models/churn-classifier")
    assert page.errors() == []
    rows = page.evaluate(
        "[...document.querySelectorAll('table.history tbody tr')].map(tr => tr.innerText)"
    )
    assert "rollback" in rows[0]
    assert "doubled the error rate of production" in rows[0]
    assert f"reverts #{number}" in rows[0]
    assert "(rolled back)" in rows[1]
    page.open(world.url + "/")
    logistic = world.versions.version("logistic")
    cell = "td[data-model='churn-classifier'][data-environment='production'] .wanted"
    assert page.text(cell) == f"v{logistic}"


def test_refused_versions_stay_in_the_history_and_every_task_has_its_chart(
    world: BoardWorld, page: Page
) -> None:
    """A refused version is history too, even after a newer challenger rebuilt its branch;
    multiclass models show per-class bars and regressors their residuals."""
    page.open(f"{world.url}/models/fraud-detector")
    assert page.errors() == []
    world.forge.open_or_update_promotion(
        model="fraud-detector",
        environment="production",
        manifest_path="model-manifests/production/fraud-detector.yaml",
        manifest_text=manifest_text("fraud-detector", "10", uri="models:/churn/10"),
        title="[rejected] Promote fraud-detector v10 to production",
        body="the report",
        draft=True,
        extra_files={
            "model-manifests/production/fraud-detector.decision.json": record_text(
                "fraud-detector",
                "production",
                "10",
                world.versions.version("logistic"),
                ({"f1": 0.70}, {"f1": 0.65}),
                Task.MULTICLASS,
                multiclass_curves(),
                world.settings.data_folder,
                DECIDED + dt.timedelta(days=4),
            )
        },
    )
    page.open(f"{world.url}/models/fraud-detector")
    assert page.errors() == []
    refused = page.evaluate(
        """[...document.querySelectorAll('table.history tbody tr.rejected')].map(tr =>
            tr.innerText)"""
    )
    assert len(refused) == 2
    assert "v10" in refused[0] and "v9" in refused[1]
    assert all(
        f"#{world.refused}" in row and "primary-min-absolute-change: f1" in row for row in refused
    ), refused
    titles = "[...document.querySelectorAll('figure.chart svg > title')].map(t => t.textContent)"
    assert page.evaluate(titles) == ["F1 per class"]
    bars = page.evaluate("document.querySelectorAll('figure.chart rect').length")
    assert bars == 6  # three classes, champion and challenger
    page.open(f"{world.url}/models/demand-forecast")
    assert page.errors() == []
    assert page.evaluate(titles) == ["Residuals"]
