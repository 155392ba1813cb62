"""`promobot propose`, `promobot check` and `promobot train`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.errors import PromobotError
from bot.recipe import Recipe
from bot.settings import load_settings


def _fail(error: PromobotError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


def propose(
    model: Annotated[str, typer.Option(help="Registered model name.")],
    version: Annotated[str, typer.Option(help="Version to propose.")],
    environment: Annotated[str, typer.Option(help="Target environment.")] = "production",
    repo: Annotated[Path, typer.Option(help="Local checkout (templates, datasets).")] = Path(),
) -> None:
    """Evaluate a version and open or update its promotion pull request."""
    # Imported here: MLflow, scikit-learn and PyGithub take seconds to import.
    from bot.app import build_services  # noqa: PLC0415
    from bot.workflows.inputs import utcnow  # noqa: PLC0415
    from bot.workflows.propose import propose as run_propose  # noqa: PLC0415

    try:
        settings = load_settings().model_copy(update={"repo": repo})
        services = build_services(settings)
        result = run_propose(services, None, model, version, environment, utcnow())
    except PromobotError as exc:
        raise _fail(exc) from exc
    where = f" {result.pull_request.url}" if result.pull_request else ""
    verdict = f" (verdict: {result.verdict.verdict.value})" if result.verdict else ""
    typer.echo(f"{result.outcome.value}{verdict}:{where} {result.detail}")


def check(
    base: Annotated[str, typer.Option(help="Base commit of the pull request.")],
    head: Annotated[str, typer.Option(help="Head commit of the pull request.")],
    repo: Annotated[Path, typer.Option(help="Local checkout holding both commits.")] = Path(),
) -> None:
    """Fail when changed manifests disagree with the registry or the policy rejects them."""
    from bot.app import build_registry  # noqa: PLC0415 - heavy imports, only for this command
    from bot.domain.layout import MANIFEST_FOLDER, POLICY_FOLDER  # noqa: PLC0415
    from bot.domain.manifest import RegistryKind  # noqa: PLC0415
    from bot.gitrepo.repo import GitRepo  # noqa: PLC0415
    from bot.workflows.check import check_change  # noqa: PLC0415

    try:
        settings = load_settings()
        registry = build_registry(RegistryKind.MLFLOW, settings)
        with GitRepo(repo) as git:
            base_sha, head_sha = git.resolve(base), git.resolve(head)
            changed = [
                c.path
                for folder in (POLICY_FOLDER, MANIFEST_FOLDER)
                for c in git.changed_files(base_sha, head_sha, folder)
            ]
            report = check_change(
                settings.data_root or repo,
                settings.mlflow_tracking_uri,
                registry,
                changed,
                read_head=lambda p: git.read_text(head_sha, p),
                read_base=lambda p: git.read_text(base_sha, p),
                list_base=lambda folder: git.list_files(base_sha, folder),
            )
    except PromobotError as exc:
        raise _fail(exc) from exc
    for line in report.failures:
        typer.echo(f"FAIL {line}")
    for line in report.notes:
        typer.echo(f"ok   {line}")
    typer.echo(report.summary())
    if not report.passed:
        raise typer.Exit(1)


def train(
    model: Annotated[str, typer.Option(help="Registered model name.")] = "churn-classifier",
    recipe: Annotated[Recipe, typer.Option(help="baseline, better or worse.")] = Recipe.BETTER,
    rows: Annotated[int, typer.Option(help="Rows of synthetic data.")] = 9000,
    print_version: Annotated[
        bool, typer.Option("--print-version", help="Print only the new version.")
    ] = False,
) -> None:
    """The example retraining job: train on synthetic churn data and register a version."""
    from bot import training  # noqa: PLC0415 - heavy imports, only for this command

    try:
        tracking_uri = load_settings().require_tracking_uri()
    except PromobotError as exc:
        raise _fail(exc) from exc
    frame = training.churn_data(rows)
    split = rows * 2 // 3
    trained = training.train_and_register(
        tracking_uri, model, recipe, frame.iloc[:split], frame.iloc[split:]
    )
    if print_version:
        typer.echo(trained.version)
    else:
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in trained.metrics.items())
        typer.echo(f"registered {model} v{trained.version} (run {trained.run_id}): {metrics}")
