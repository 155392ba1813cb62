"""What `promobot evaluate` costs next to predicting, and next to MLflow, in both thread settings.

The same synthetic binary data (20 features) and the same two models (a
LogisticRegression champion, a HistGradientBoostingClassifier challenger,
trained on a separate small set and saved as MLflow model folders), for each
size N (default 1,000,000 rows) and each data format (default Parquet):

(a) the floor: read the data file, then both models predict on all rows
    (`predict_proba`, from which the labels follow for these two models);
    the models are loaded beforehand and nothing else is done;
(b) promobot: `evaluate_models`, the function behind `promobot evaluate`, on
    the file and the two model folders: model loading, the data read once in
    chunks with its checks and its digest, both models' predictions, and
    accuracy, precision, recall, f1, roc_auc and log_loss, each with a 95%
    interval and a one-sided p-value;
(c) MLflow's path: `mlflow.models.evaluate` for each model, then
    `mlflow.validate_evaluation_results`, in a temporary SQLite-backed
    tracking store, in a child process with a time limit (the data is read
    before the clock starts);
(d) the `promobot evaluate` command itself, in a process of its own: (b)
    plus the interpreter's start, the imports (pandas, scikit-learn, skops,
    MLflow) and the JSON output.

Both thread settings run in one invocation: the libraries' default threads
(OpenMP and BLAS use every CPU), then one thread (`threadpoolctl` limits
scikit-learn's OpenMP and the BLAS pools to one thread, in the child too).
(a), (b) and (d) run in turns, `--repeats` rounds each, so that load from
other processes disturbs them alike; the figures are medians of wall time,
and of CPU time of the process (all its threads). Goal: b/a <= 2.0 with
default threads at N = 1,000,000.

The last lines are machine-readable, one `key=value` per line (wall-time
ratios): `evaluate_over_floor_<threads>_<format>_n<N>` (b/a),
`command_over_floor_<threads>_<format>_n<N>` (d/a) and
`mlflow_over_evaluate_<threads>_n<N>` (c/b), where <threads> is `default` or `one`.

Run: .venv/bin/python benchmarks/evaluation.py [--sizes 1000000] [--formats parquet csv]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import MetricThreshold
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import bot
from bot.evaluation import HIST_GRADIENT_BOOSTING_TYPES, evaluate_models

FEATURES = [f"f{i}" for i in range(20)]
TRAIN_ROWS = 20_000
THREAD_SETTINGS = {"default": None, "one": 1}
THREAD_WORDS = {"default": "the libraries' default threads", "one": "one thread"}


def make_rows(n: int, seed: int) -> pd.DataFrame:
    """Rows from one fixed law (a linear part plus interactions a linear model cannot fit)."""
    law = np.random.default_rng(20_000)
    weights = law.normal(size=len(FEATURES)) * (law.random(len(FEATURES)) < 0.6)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, len(FEATURES)))
    logit = (
        features @ weights + 1.5 * features[:, 0] * features[:, 1] - np.abs(features[:, 2]) + 0.5
    )
    frame = pd.DataFrame(features, columns=FEATURES)
    frame["label"] = (logit + rng.logistic(size=n) > 0).astype(np.int64)
    return frame


def save_models(folder: Path) -> dict[str, str]:
    """Both models, trained on a small set apart from the evaluation rows, as MLflow folders."""
    train = make_rows(TRAIN_ROWS, seed=1)
    models = {
        "champion": LogisticRegression(max_iter=1000),
        "challenger": HistGradientBoostingClassifier(random_state=1),
    }
    folders = {}
    for name, model in models.items():
        model.fit(train[FEATURES], train["label"])
        folders[name] = str(folder / name)
        mlflow.sklearn.save_model(
            model,
            folders[name],
            skops_trusted_types=list(HIST_GRADIENT_BOOSTING_TYPES),
            pip_requirements=["scikit-learn", "skops"],
        )
    return folders


def write_data(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


def read_data(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


@dataclass(frozen=True)
class Timing:
    """Wall and CPU seconds."""

    wall: float
    cpu: float


def measure(action: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def median(times: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall for t in times), statistics.median(t.cpu for t in times))


@contextlib.contextmanager
def threads(limit: int | None) -> Iterator[None]:
    """One thread for OpenMP and BLAS, or the libraries' defaults when `limit` is None."""
    if limit is None:
        yield
        return
    with threadpool_limits(limit):
        yield


def run_command(path: Path, folders: dict[str, str], limit: int | None) -> Timing:
    """(d): `promobot evaluate` in a process of its own; CPU time is the child's."""
    env = dict(os.environ, PYTHONPATH=str(Path(bot.__file__).resolve().parents[1]))
    if limit is not None:
        env |= {name: str(limit) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    arguments = ["--champion", folders["champion"], "--challenger", folders["challenger"]]
    arguments += ["--data", str(path), "--label", "label"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "evaluate", *arguments],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Timing(wall, cpu)


def rounds(
    path: Path, folders: dict[str, str], repeats: int, limit: int | None
) -> tuple[dict[str, Timing], Any]:
    """Medians of (a), (b) and (d) over `repeats` rounds that run them in turn; (b)'s result."""
    loaded = [mlflow.sklearn.load_model(folders[name]) for name in ("champion", "challenger")]

    def floor() -> None:
        features = read_data(path).drop(columns=["label"])
        for model in loaded:
            model.predict_proba(features)

    def promobot() -> Any:
        return evaluate_models(folders["champion"], folders["challenger"], path, "label")

    floor(), promobot()
    times: dict[str, list[Timing]] = {"floor": [], "promobot": [], "command": []}
    for _ in range(repeats):
        times["floor"].append(measure(floor))
        times["promobot"].append(measure(promobot))
        times["command"].append(run_command(path, folders, limit))
    return {name: median(runs) for name, runs in times.items()}, promobot()


def mlflow_child(
    data_path: str, folders: dict[str, str], workdir: str, limit: int | None, queue: Any
) -> None:
    """(c), in a child process: evaluate both models, then validate the challenger."""
    if limit is not None:
        threadpool_limits(limit)
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    frame = pd.read_parquet(data_path)
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    experiment = mlflow.create_experiment("bench", artifact_location=f"{workdir}/artifacts")
    models = [mlflow.pyfunc.load_model(folders[name]) for name in ("champion", "challenger")]
    wall, cpu = time.perf_counter(), time.process_time()
    results = []
    for model in models:
        with mlflow.start_run(experiment_id=experiment):
            results.append(
                mlflow.models.evaluate(
                    model=model, data=frame, targets="label", model_type="classifier"
                )
            )
    thresholds = {
        # MLflow refuses a zero change; the smallest positive one is "any improvement".
        "accuracy_score": MetricThreshold(min_absolute_change=1e-12, greater_is_better=True)
    }
    try:
        mlflow.validate_evaluation_results(thresholds, results[1], results[0])
    except Exception as error:
        if type(error).__name__ != "ModelValidationFailedException":
            raise
    timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
    queue.put((timing, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_mlflow(
    frame: pd.DataFrame, folders: dict[str, str], limit: int | None, timeout: float
) -> tuple[Timing, float] | None:
    """(c)'s time and the child's peak memory in MB, or None when over `timeout`."""
    with tempfile.TemporaryDirectory(prefix="promobot-bench-mlflow-") as workdir:
        data_path = str(Path(workdir, "eval.parquet"))
        frame.to_parquet(data_path)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(
            target=mlflow_child, args=(data_path, folders, workdir, limit, queue)
        )
        child.start()
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()
            return None
        if child.exitcode != 0 or queue.empty():
            raise RuntimeError(f"the MLflow run failed (exit code {child.exitcode})")
        result: tuple[Timing, float] = queue.get()
        return result


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def report_size(
    n: int, args: argparse.Namespace, folders: dict[str, str], workdir: Path
) -> dict[str, float]:
    """Print the table for one size and return its machine-readable figures."""
    frame = make_rows(n, seed=2)
    paths = [write_data(frame, workdir / f"eval-{n}.{fmt}") for fmt in args.formats]
    figures: dict[str, float] = {}
    for setting, limit in THREAD_SETTINGS.items():
        print(f"\nN = {n:,}, {THREAD_WORDS[setting]} ({load()})")
        print(f"  {'':44s}{'wall s':>9s}{'cpu s':>9s}")
        ours: dict[str, Timing] = {}
        with threads(limit):
            for path in paths:
                fmt = path.suffix.lstrip(".")
                times, evaluated = rounds(path, folders, args.repeats, limit)
                floor, ours[fmt], command = times["floor"], times["promobot"], times["command"]
                ratio = Timing(ours[fmt].wall / floor.wall, ours[fmt].cpu / floor.cpu)
                row("(a) floor: read, predict_proba x2", fmt, floor)
                row("(b) promobot evaluate, in process", fmt, ours[fmt])
                row("    b/a", fmt, ratio, digits=2)
                row("(d) promobot evaluate, the command", fmt, command)
                row("    d/a", fmt, Timing(command.wall / floor.wall, command.cpu / floor.cpu), 2)
                figures[f"evaluate_over_floor_{setting}_{fmt}_n{n}"] = ratio.wall
                figures[f"command_over_floor_{setting}_{fmt}_n{n}"] = command.wall / floor.wall
            mlflow_run = run_mlflow(frame, folders, limit, args.mlflow_timeout)
        if setting == "default":
            for name, metric in evaluated.metrics.items():
                print(
                    f"      {name:9s} {metric.champion:.4f} -> {metric.challenger:.4f}  "
                    f"CI [{metric.ci_low:+.4f}, {metric.ci_high:+.4f}]  p {metric.p_value:.2g}"
                )
        if mlflow_run is None:
            print(f"  (c) MLflow evaluate x2 + validate: over {args.mlflow_timeout:.0f} s")
            continue
        theirs, peak_mb = mlflow_run
        reference = ours.get("parquet") or next(iter(ours.values()))
        row("(c) MLflow evaluate x2 + validate", "", theirs)
        row("    c/b", "", Timing(theirs.wall / reference.wall, theirs.cpu / reference.cpu), 1)
        print(f"      (one run, no intervals; child peak RSS {peak_mb:,.0f} MB)")
        figures[f"mlflow_over_evaluate_{setting}_n{n}"] = theirs.wall / reference.wall
    return figures


def row(what: str, fmt: str, timing: Timing, digits: int = 3) -> None:
    label = f"{what}, {fmt}" if fmt else what
    print(f"  {label:44s}{timing.wall:9.{digits}f}{timing.cpu:9.{digits}f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--formats", nargs="+", choices=["parquet", "csv"], default=["parquet"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mlflow-timeout", type=float, default=900.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="mlflow")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    print("LogisticRegression vs HistGradientBoostingClassifier, 20 features, medians of")
    print(f"{args.repeats} interleaved rounds; {load()}")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="promobot-bench-") as workdir:
        folders = save_models(Path(workdir))
        for n in args.sizes:
            figures |= report_size(n, args, folders, Path(workdir))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npromobot process peak RSS: {peak:,.0f} MB; {load()}")
    for key, value in figures.items():
        print(f"{key}={value:.2f}")


if __name__ == "__main__":
    main()
