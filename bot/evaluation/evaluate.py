"""Evaluate a challenger against the champion: load both, score the same rows, compare."""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

import bot
from bot.domain.comparison import Comparison, Provenance, Task
from bot.errors import UserInputError
from bot.evaluation.checks import BadData, DataChecks, no_rows
from bot.evaluation.compare import DEFAULT_RESAMPLES, EvaluationResult, PairedEvaluation
from bot.evaluation.data import FileDigest, iter_batches, open_data, read_ahead
from bot.evaluation.models import Scorer, load_scorer
from bot.evaluation.predictions import Predictions

Progress = Callable[[int, int | None], None]
"""Called after every chunk with (rows scored so far, total rows or None when unknown)."""


def _task_name(task: Task | None) -> str:
    return "a regressor" if task is Task.REGRESSION else f"a {task} classifier"


def agree_on_task(champion: Scorer | None, challenger: Scorer) -> Task | None:
    """The task both models declare; None when neither says. Disagreement is the user's error."""
    declared = [s for s in (champion, challenger) if s is not None and s.task is not None]
    tasks = {s.task for s in declared}
    if len(tasks) > 1:
        described = ", ".join(f"{s.uri} is {_task_name(s.task)}" for s in declared)
        raise UserInputError(
            f"the models disagree on the task: {described}",
            hint="compare a challenger only with a champion trained for the same target",
        )
    classes = {getattr(s, "classes", None) for s in declared} - {None}
    if len(classes) > 1:
        listed = "; ".join(f"{s.uri}: {list(getattr(s, 'classes', []))}" for s in declared)
        raise UserInputError(
            f"the models predict different classes ({listed})",
            hint="both models must be trained on the same label values",
        )
    return tasks.pop() if tasks else None


def _infer_task(outputs: list[Predictions]) -> Task | None:
    """From a first chunk: regression when the predictions are numbers that are not all whole."""
    if any(p.scores is not None for p in outputs):
        return None
    values = [np.asarray(p.labels) for p in outputs]
    if not all(v.dtype.kind == "f" for v in values):
        return None
    is_whole = all(bool(np.all(np.mod(v[np.isfinite(v)], 1) == 0)) for v in values)
    return None if is_whole else Task.REGRESSION


def evaluate_scorers(
    champion: Scorer | None,
    challenger: Scorer,
    batches: Iterable[pd.DataFrame],
    label: str,
    *,
    total: int | None = None,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    progress: Progress | None = None,
    data_name: str = "the data",
) -> EvaluationResult:
    """Score every chunk with both models once and fold the pairs into the comparison.

    Each chunk is checked before it is scored (`bot.evaluation.checks`); bad
    data raises `BadData`, whose message calls the data `data_name`.
    """
    task = agree_on_task(champion, challenger)
    sides = [("challenger", challenger)] + ([] if champion is None else [("champion", champion)])
    readers = {_reader(role, scorer): scorer.columns for role, scorer in sides}
    checks = DataChecks(data_name, label, readers)
    evaluation: PairedEvaluation | None = None
    for frame in batches:
        checks.inspect(frame)
        if not (checks.is_refused or frame.empty):
            outputs = _score(sides, frame.drop(columns=[label]), checks)
            if outputs is not None:
                if evaluation is None:
                    evaluation = _start(task, outputs, with_champion=champion is not None)
                labels = frame[label].to_numpy()
                evaluation.add(labels, outputs.get("champion"), outputs["challenger"])
        if progress is not None:
            progress(checks.rows, total)
    checks.finish(None if evaluation is None else evaluation.label_counts())
    if evaluation is None:
        raise BadData(no_rows(data_name))
    return evaluation.finish(seed=seed, n_resamples=n_resamples)


def _score(
    sides: list[tuple[str, Scorer]], features: pd.DataFrame, checks: DataChecks
) -> dict[str, Predictions] | None:
    """Each model's predictions; None when a model refused values the checks found."""
    outputs = {}
    for role, scorer in sides:
        try:
            outputs[role] = scorer.score(features)
        except UserInputError:
            raise
        except Exception:
            if checks.explains_refusal(_reader(role, scorer)):
                return None
            raise
    return outputs


def _start(
    task: Task | None, outputs: dict[str, Predictions], *, with_champion: bool
) -> PairedEvaluation:
    """The evaluation, its task taken from the models or else from their first predictions."""
    chosen = task or _infer_task(list(outputs.values()))
    if chosen is Task.REGRESSION and any(p.scores is not None for p in outputs.values()):
        raise UserInputError(
            "the models disagree on the task: one gives class probabilities, "
            "the other is a regressor",
            hint="compare a challenger only with a champion trained for the same target",
        )
    return PairedEvaluation(chosen, with_champion=with_champion)


def reproduce_command(
    champion_uri: str | None, challenger_uri: str, data_path: Path | str, label: str, seed: int
) -> str:
    """The CLI command that repeats this evaluation."""
    words = ["promobot", "evaluate"]
    if champion_uri is not None:
        words += ["--champion", champion_uri]
    words += ["--challenger", challenger_uri, "--data", str(data_path), "--label", label]
    if seed != 0:
        words += ["--seed", str(seed)]
    return shlex.join(words)


def evaluate_models(
    champion_uri: str | None,
    challenger_uri: str,
    data_path: Path,
    label: str,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    tracking_uri: str | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    batch_rows: int | None = None,
    data_name: str | None = None,
) -> Comparison:
    """Champion against challenger on a labelled CSV or Parquet file.

    `champion_uri=None` is a first deployment: only the challenger's values.
    Bad input (missing file, unknown label column, a URI that does not
    resolve, models that disagree on the task) raises `UserInputError`; bad
    data (NaN or infinite values, no rows, one class, a missing column) raises
    its subclass `BadData`, whose one-line message names the column and the
    rows. Messages, the provenance and the command that repeats the evaluation call the
    file `data_name` (default: `data_path` as given).
    The file is read once, in a thread of its own one chunk ahead of the
    scoring (and of the model loading); its digest is taken from the same reads.
    """
    data_path = Path(data_path)
    source = open_data(data_path, label, data_name)
    digest = FileDigest(data_path)
    with (
        read_ahead(iter_batches(source, batch_rows, digest)) as batches,
        tempfile.TemporaryDirectory(prefix="promobot-models-") as downloads,
    ):
        challenger = load_scorer(
            challenger_uri, tracking_uri=tracking_uri, download_dir=Path(downloads, "challenger")
        )
        champion = (
            None
            if champion_uri is None
            else load_scorer(
                champion_uri, tracking_uri=tracking_uri, download_dir=Path(downloads, "champion")
            )
        )
        result = evaluate_scorers(
            champion,
            challenger,
            batches,
            label,
            total=source.rows,
            seed=seed,
            n_resamples=n_resamples,
            progress=progress,
            data_name=source.name,
        )
    # The data as the caller names it (the bot: the policy's name inside its data root),
    # never a path of the machine that ran the evaluation unless that is how it was given.
    shown = str(data_path) if data_name is None else data_name
    provenance = Provenance(
        data_sha256=digest.hexdigest(),
        data_path=shown,
        label=label,
        champion_uri=champion_uri,
        challenger_uri=challenger_uri,
        champion_run_id=None if champion is None else champion.run_id,
        challenger_run_id=challenger.run_id,
        code_version=bot.__version__,
        command=reproduce_command(champion_uri, challenger_uri, shown, label, seed),
    )
    return result.comparison(provenance)


def _reader(role: str, scorer: Scorer) -> str:
    """How messages name a model: `the challenger (models:/churn/7)`."""
    return f"the {role} ({scorer.uri})"
