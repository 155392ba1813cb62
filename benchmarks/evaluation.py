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

Run: .venv/bin/python benchmarks/evaluation.py [--sizes 200000 1000000] [--mlflow-timeout 420]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import MetricThreshold
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

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


def interleaved(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Fastest wall time of each action over `repeats` rounds that run them in turn.

    Taking turns spreads any load from other processes over all the actions,
    and the fastest run is the one least disturbed by it.
    """
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def batches(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Chunks as promobot reads a file: about `BATCH_BYTES` of values each."""
    size = max(1024, BATCH_BYTES // (8 * frame.shape[1]))
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def run_promobot(champion: Any, challenger: Any, frame: pd.DataFrame) -> Any:
    return evaluate_scorers(
        SklearnScorer(champion), SklearnScorer(challenger), batches(frame), "label", seed=0
    )


def mlflow_child(data_path: str, workdir: str, queue: Any) -> None:
    """(c), in a child process: log both models, then time evaluate + validate."""
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
    start = time.perf_counter()
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
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((elapsed, peak_mb))


def run_mlflow(frame: pd.DataFrame, timeout: float) -> tuple[float, float] | None:
    """(c)'s seconds and the child's peak memory in MB, or None when over `timeout`."""
    with tempfile.TemporaryDirectory(prefix="promobot-bench-") as workdir:
        data_path = str(Path(workdir, "eval.parquet"))
        frame.to_parquet(data_path)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=mlflow_child, args=(data_path, workdir, queue))
        child.start()
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()
            return None
        if child.exitcode != 0 or queue.empty():
            raise RuntimeError(f"the MLflow run failed (exit code {child.exitcode})")
        result: tuple[float, float] = queue.get()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--mlflow-timeout", type=float, default=420.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    champion, challenger = train_models(seed=1)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"models: LogisticRegression vs HistGradientBoostingClassifier, {FEATURES} features")
    for n in args.sizes:
        frame = eval_frame(n, seed=2)
        features = frame.drop(columns=["label"]).to_numpy()
        times = interleaved(
            {
                "floor": lambda x=features: (
                    champion.predict_proba(x),
                    challenger.predict_proba(x),
                ),
                "predict": lambda x=features: (champion.predict(x), challenger.predict(x)),
                "promobot": lambda f=frame: run_promobot(champion, challenger, f),
            },
            args.repeats,
        )
        floor, predict, ours = times["floor"], times["predict"], times["promobot"]
        result = run_promobot(champion, challenger, frame)
        print(f"\nN = {n:,}")
        print(f"  (a) floor, predict_proba of both models: {floor:8.3f} s")
        print(f"      (predict of both models:              {predict:8.3f} s)")
        print(
            f"  (b) promobot, whole comparison:           {ours:8.3f} s   b/a = {ours / floor:.2f}"
        )
        for name, metric in result.metrics.items():
            print(
                f"      {name:9s} {metric.champion:.4f} -> {metric.challenger:.4f}  "
                f"delta {metric.delta:+.4f}  CI [{metric.ci_low:+.4f}, {metric.ci_high:+.4f}]  "
                f"p {metric.p_value:.2g}  ({metric.method})"
            )
        mlflow_run = run_mlflow(frame, args.mlflow_timeout)
        if mlflow_run is None:
            limit = f"{args.mlflow_timeout:.0f} s"
            print(f"  (c) MLflow evaluate x2 + validate: did not finish in {limit}")
        else:
            seconds, peak_mb = mlflow_run
            print(
                f"  (c) MLflow evaluate x2 + validate:        {seconds:8.3f} s   c/b = "
                f"{seconds / ours:.1f}   (child peak RSS {peak_mb:,.0f} MB; no intervals)"
            )
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\npromobot process peak RSS: {peak_after:,.0f} MB (after training: {peak_before:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
