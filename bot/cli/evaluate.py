"""`promobot evaluate`: champion against challenger on a labelled dataset."""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from bot.domain.comparison import Comparison
    from bot.domain.policy import Policy
    from bot.domain.verdict import Verdict

# Everything else is imported inside the command: `promobot --help` and the other
# commands never pay for pandas, scikit-learn, MLflow, pydantic or Jinja2.


class Format(StrEnum):
    """Output format."""

    JSON = "json"
    MARKDOWN = "markdown"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a user error on stderr; the caller raises what this returns."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def scoring_progress(enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress bar on stderr while both models score the data."""
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("scoring rows", total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def comparison_json(comparison: Comparison, verdict: Verdict | None) -> dict[str, Any]:
    """The CLI's JSON contract."""
    return {
        "task": comparison.task.value,
        "n": comparison.n,
        "data_sha256": comparison.provenance.data_sha256,
        "metrics": comparison.to_json_dict(),
        "verdict": None if verdict is None else verdict.verdict.value,
        "rules": []
        if verdict is None
        else [
            {
                "name": r.name,
                "passed": r.passed,
                "detail": r.detail,
                "observed": r.observed,
                "required": r.required,
            }
            for r in verdict.rules
        ],
        "notes": list(comparison.notes),
        "provenance": comparison.provenance.model_dump(mode="json"),
    }


def evaluate(
    challenger: Annotated[str, typer.Option(help="Challenger model URI.")],
    data: Annotated[Path, typer.Option(help="Labelled CSV or Parquet file.")],
    label: Annotated[str, typer.Option(help="Label column.")],
    champion: Annotated[
        str | None, typer.Option(help="Champion model URI; omit for a first deployment.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file whose rules give the verdict.")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="json or markdown.")] = Format.JSON,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    tracking_uri: Annotated[
        str | None, typer.Option(envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI.")
    ] = None,
) -> None:
    """Compare two models on the same rows, with paired CIs and p-values.

    Bad data (NaN or infinite values, no rows, a single class, a missing
    column) is one line on stderr naming the column and the rows, and exit code 2.
    """
    resolved = None if policy is None else read_policy(policy)
    # The process ends soon after this command. Freezing the heap at exit spares the
    # interpreter's last collection a walk through every object that pandas, SciPy,
    # scikit-learn and MLflow leave behind (0.8-1.4 s here, 0.1 s frozen).
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    # pandas, SciPy and MLflow are slow to import: only this command pays for them.
    from bot.errors import UserInputError  # noqa: PLC0415
    from bot.evaluation import evaluate_models  # noqa: PLC0415
    from bot.evaluation.checks import BadData  # noqa: PLC0415

    try:
        with scoring_progress(True) as progress:
            comparison = evaluate_models(
                champion,
                challenger,
                data,
                label,
                seed=seed,
                progress=progress,
                tracking_uri=tracking_uri,
            )
    except BadData as exc:
        raise fail(exc.message) from exc
    except UserInputError as exc:
        raise fail(str(exc)) from exc
    from bot.domain.verdict import decide  # noqa: PLC0415

    verdict = None if resolved is None else decide(comparison, resolved)
    if output is Format.JSON:
        typer.echo(json.dumps(comparison_json(comparison, verdict), indent=2))
        return
    typer.echo(markdown_report(comparison, verdict, resolved, champion, challenger))


def read_policy(path: Path) -> Policy:
    """The policy file as one standalone policy; a bad file ends the command with exit 2."""
    from bot.domain.resolution import PolicyResolutionError, standalone_policy  # noqa: PLC0415
    from bot.formats.loading import InvalidFile, load_policy_text  # noqa: PLC0415

    try:
        return standalone_policy(load_policy_text(path.read_text(), str(path)), str(path))
    except OSError as exc:
        raise fail(f"cannot read policy {path}: {exc.strerror}") from exc
    except InvalidFile as exc:
        raise fail(str(exc)) from exc
    except PolicyResolutionError as exc:
        raise fail(f"{path}: {exc}") from exc


def markdown_report(
    comparison: Comparison,
    verdict: Verdict | None,
    policy: Policy | None,
    champion: str | None,
    challenger: str,
) -> str:
    """The report a pull request would show for this comparison."""
    from bot.report.render import ReportContext, render_report  # noqa: PLC0415

    name, version = split_uri(challenger)
    ctx = ReportContext(
        model=name,
        environment="evaluation",
        champion_version=split_uri(champion)[1] if champion else None,
        challenger_version=version,
        policy_names=() if policy is None else policy.names,
        generated_at=dt.datetime.now(dt.UTC),
    )
    return render_report(comparison, verdict, ctx)


def split_uri(uri: str) -> tuple[str, str]:
    """`models:/churn/7` -> (`churn`, `7`); other URIs are shown whole."""
    if uri.startswith("models:/"):
        name, _, version = uri.removeprefix("models:/").partition("/")
        if version:
            return name, version
        name, _, alias = name.partition("@")
        return name, f"@{alias}" if alias else uri
    return uri, uri
