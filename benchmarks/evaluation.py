"""How much does a paired comparison with intervals cost next to predicting, and next to MLflow?

On the same synthetic binary data (20 features) and the same two models (a
LogisticRegression champion, a HistGradientBoostingClassifier challenger,
trained on a separate small set), for N = 200,000 and 1,000,000 rows:

(a) the floor: both models predict the evaluation rows (`predict_proba`, from
    which the labels follow for these two models; `predict` is shown too);
(b) promobot: the whole comparison from the loaded models, predictions
    included: accuracy, precision, recall, f1, roc_auc and log_loss, each with
    a 95% interval and a one-sided p-value;
(c) MLflow's path: `mlflow.models.evaluate` for each model, then
    `mlflow.validate_evaluation_results`, in a temporary SQLite-backed
    tracking store. It runs in a child process with a time limit, so that a
    run too slow or too large for this machine is reported, not waited for.

Goals: b/a <= 1.3 at N = 1,000,000 and c/b >= 20.

Every figure is given twice: wall time, and CPU time of the process (all its
threads). (a) and (b) run in turns and the fastest of `--repeats` rounds
counts, so load from other processes disturbs both alike. `--threads 1`
(the default) limits scikit-learn's OpenMP and BLAS pools to one thread in
all three paths: on a shared machine, OpenMP barriers waiting for a busy
core make multi-threaded timings swing several-fold, while one thread gives
stable ratios of work; `--threads 0` keeps the libraries' defaults.
(promobot's DeLong step sorts the two models' scores in two threads of its
own either way; the CPU-time ratio counts both.)

Run: .venv/bin/python benchmarks/evaluation.py [--sizes 200000 1000000] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import resource
import tempfile
import time
import warnings
from collections.abc import Callable
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

from bot.evaluation import HIST_GRADIENT_BOOSTING_TYPES, SklearnScorer, evaluate_scorers
from bot.evaluation.data import BATCH_BYTES

FEATURES = 20
TRAIN_ROWS = 20_000


def make_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows from one fixed law (a linear part plus interactions a linear model cannot fit)."""
    law = np.random.default_rng(20_000)
    weights = law.normal(size=FEATURES) * (law.random(FEATURES) < 0.6)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, FEATURES))
    logit = (
        features @ weights + 1.5 * features[:, 0] * features[:, 1] - np.abs(features[:, 2]) + 0.5
    )
    labels = (logit + rng.logistic(size=n) > 0).astype(np.int64)
    return features, labels


def train_models(seed: int) -> tuple[LogisticRegression, HistGradientBoostingClassifier]:
    """Both models, trained on a small set apart from the evaluation rows (deterministic)."""
    features, labels = make_rows(TRAIN_ROWS, seed)
    champion = LogisticRegression(max_iter=1000).fit(features, labels)
    challenger = HistGradientBoostingClassifier(random_state=seed).fit(features, labels)
    return champion, challenger


def eval_frame(n: int, seed: int) -> pd.DataFrame:
    features, labels = make_rows(n, seed)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = labels
    return frame


@dataclass(frozen=True)
class Timing:
    """Wall and CPU seconds of one run."""

    wall: float
    cpu: float


def measure(action: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def interleaved(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, Timing]:
    """Fastest wall and CPU time of each action over `repeats` rounds that run them in turn."""
    runs: dict[str, list[Timing]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            runs[name].append(measure(action))
    return {
        name: Timing(min(t.wall for t in times), min(t.cpu for t in times))
        for name, times in runs.items()
    }


def batches(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Chunks as promobot reads a file: about `BATCH_BYTES` of values each."""
    size = max(1024, BATCH_BYTES // (8 * frame.shape[1]))
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def run_promobot(champion: Any, challenger: Any, frame: pd.DataFrame) -> Any:
    return evaluate_scorers(
        SklearnScorer(champion), SklearnScorer(challenger), batches(frame), "label", seed=0
    )


def mlflow_child(data_path: str, workdir: str, threads: int, queue: Any) -> None:
    """(c), in a child process: log both models, then time evaluate + validate."""
    if threads:
        threadpool_limits(threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    frame = pd.read_parquet(data_path)
    champion, challenger = train_models(seed=1)
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    experiment = mlflow.create_experiment("bench", artifact_location=f"{workdir}/artifacts")
    models = []
    for name, model in (("champion", champion), ("challenger", challenger)):
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                model, name=name, skops_trusted_types=list(HIST_GRADIENT_BOOSTING_TYPES)
            )
        models.append(mlflow.pyfunc.load_model(info.model_uri))
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
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((timing, peak_mb))


def run_mlflow(frame: pd.DataFrame, threads: int, timeout: float) -> tuple[Timing, float] | None:
    """(c)'s time and the child's peak memory in MB, or None when over `timeout`."""
    with tempfile.TemporaryDirectory(prefix="promobot-bench-") as workdir:
        data_path = str(Path(workdir, "eval.parquet"))
        frame.to_parquet(data_path)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=mlflow_child, args=(data_path, workdir, threads, queue))
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


def report_size(n: int, args: argparse.Namespace, champion: Any, challenger: Any) -> None:
    frame = eval_frame(n, seed=2)
    features = frame.drop(columns=["label"]).to_numpy()
    times = interleaved(
        {
            "floor": lambda: (champion.predict_proba(features), challenger.predict_proba(features)),
            "predict": lambda: (champion.predict(features), challenger.predict(features)),
            "promobot": lambda: run_promobot(champion, challenger, frame),
        },
        args.repeats,
    )
    floor, ours = times["floor"], times["promobot"]
    print(f"\nN = {n:,}                                     wall       cpu")
    print(f"  (a) floor, predict_proba of both models: {floor.wall:7.3f} s {floor.cpu:7.3f} s")
    predict = times["predict"]
    print(f"      (predict of both models:             {predict.wall:7.3f} s {predict.cpu:7.3f} s)")
    print(
        f"  (b) promobot, whole comparison:          {ours.wall:7.3f} s {ours.cpu:7.3f} s"
        f"   b/a = {ours.wall / floor.wall:.2f} wall, {ours.cpu / floor.cpu:.2f} cpu"
    )
    for name, metric in run_promobot(champion, challenger, frame).metrics.items():
        print(
            f"      {name:9s} {metric.champion:.4f} -> {metric.challenger:.4f}  "
            f"delta {metric.delta:+.4f}  CI [{metric.ci_low:+.4f}, {metric.ci_high:+.4f}]  "
            f"p {metric.p_value:.2g}  ({metric.method})"
        )
    mlflow_run = run_mlflow(frame, args.threads, args.mlflow_timeout)
    if mlflow_run is None:
        print(f"  (c) MLflow evaluate x2 + validate: did not finish in {args.mlflow_timeout:.0f} s")
        return
    mlflow_time, peak_mb = mlflow_run
    print(
        f"  (c) MLflow evaluate x2 + validate:       {mlflow_time.wall:7.3f} s "
        f"{mlflow_time.cpu:7.3f} s   c/b = {mlflow_time.wall / ours.wall:.1f} wall, "
        f"{mlflow_time.cpu / ours.cpu:.1f} cpu"
    )
    print(f"      (one run, no intervals; child peak RSS {peak_mb:,.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--mlflow-timeout", type=float, default=600.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="0: the libraries' defaults")
    args = parser.parse_args()
    if args.threads:
        threadpool_limits(args.threads)
    champion, challenger = train_models(seed=1)
    threads = args.threads or "default"
    print(f"LogisticRegression vs HistGradientBoostingClassifier, {FEATURES} features, ", end="")
    print(f"threads: {threads}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for n in args.sizes:
        report_size(n, args, champion, challenger)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npromobot process peak RSS: {peak:,.0f} MB; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
