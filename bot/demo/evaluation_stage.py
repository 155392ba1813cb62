"""Demo stages that need only the core: train, register, evaluate, report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.demo.narration import Narrator
from bot.domain.comparison import Comparison
from bot.domain.resolution import resolve_policy
from bot.domain.verdict import Verdict, decide
from bot.evaluation import evaluate_models
from bot.formats.loading import load_policy_folder
from bot.report.render import ReportContext, render_report
from bot.training import (
    LABEL,
    Recipe,
    TrainedVersion,
    churn_data,
    train_and_register,
    write_dataset,
)

MODEL = "churn-classifier"
ENVIRONMENT = "production"


@dataclass(frozen=True)
class DemoData:
    """Where the demo's data and registry live."""

    tracking_uri: str
    eval_path: Path
    train_rows: int = 6000


def prepare_data(workdir: Path) -> DemoData:
    """Synthetic churn data split into training, holdout and evaluation sets."""
    workdir.mkdir(parents=True, exist_ok=True)
    frame = churn_data(12_000)
    eval_path = write_dataset(frame.iloc[9000:], workdir / "data" / "churn-eval.parquet")
    frame.iloc[:6000].to_parquet(workdir / "data" / "churn-train.parquet", index=False)
    frame.iloc[6000:9000].to_parquet(workdir / "data" / "churn-holdout.parquet", index=False)
    return DemoData(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}", eval_path=eval_path)


def train(data: DemoData, recipe: Recipe, tracking_uri: str | None = None) -> TrainedVersion:
    """Train and register one version of the demo model."""
    import pandas as pd  # noqa: PLC0415 - pandas is heavy; only the demo needs it here

    folder = data.eval_path.parent
    return train_and_register(
        tracking_uri or data.tracking_uri,
        MODEL,
        recipe,
        pd.read_parquet(folder / "churn-train.parquet"),
        pd.read_parquet(folder / "churn-holdout.parquet"),
    )


def evaluate_and_report(
    data: DemoData,
    champion: TrainedVersion | None,
    challenger: TrainedVersion,
    repo_root: Path,
    out_dir: Path,
    tracking_uri: str | None = None,
) -> tuple[Comparison, Verdict, Path]:
    """Evaluate under the repository's policy and write the Markdown report."""
    policy = resolve_policy(load_policy_folder(repo_root / "policies"), MODEL, ENVIRONMENT)
    comparison = evaluate_models(
        None if champion is None else f"models:/{MODEL}/{champion.version}",
        f"models:/{MODEL}/{challenger.version}",
        data.eval_path,
        LABEL,
        tracking_uri=tracking_uri or data.tracking_uri,
    )
    verdict = decide(comparison, policy)
    ctx = ReportContext(
        model=MODEL,
        environment=ENVIRONMENT,
        champion_version=None if champion is None else champion.version,
        challenger_version=challenger.version,
        policy_names=policy.names,
        generated_at=dt.datetime.now(dt.UTC),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"report-{MODEL}-v{challenger.version}.md"
    report.write_text(render_report(comparison, verdict, ctx, repo_root), encoding="utf-8")
    return comparison, verdict, report


def run_evaluation_demo(workdir: Path, repo_root: Path, narrator: Narrator) -> Verdict:
    """Train a champion and a better challenger, evaluate them, write the report."""
    with narrator.stage("Generate churn data and train the champion (v1, logistic regression)"):
        data = prepare_data(workdir)
        champion = train(data, Recipe.BASELINE)
        narrator.say(f"registered {MODEL} v{champion.version} in MLflow at {data.tracking_uri}")
    with narrator.stage("Retrain: the challenger (v2, gradient boosting)"):
        challenger = train(data, Recipe.BETTER)
        narrator.say(f"registered {MODEL} v{challenger.version}")
    with narrator.stage("Evaluate v2 against v1 under policies/ (paired, on the same rows)"):
        comparison, verdict, report = evaluate_and_report(
            data, champion, challenger, repo_root, workdir / "reports"
        )
        f1 = comparison.metrics["f1"]
        narrator.say(
            f"f1 {f1.champion:.4f} -> {f1.challenger:.4f} (Δ {f1.delta:+.4f}, "
            f"95% CI [{f1.ci_low:+.4f}, {f1.ci_high:+.4f}], p={f1.p_value:.2g}) "
            f"on {comparison.n} rows"
        )
        narrator.say(f"verdict: [bold]{verdict.verdict.value}[/bold]")
        narrator.say(f"report: {report}")
    return verdict
