"""Champion against challenger: both models score the same rows, every metric gets a paired test.

Entries:
- `evaluate_models(champion_uri, challenger_uri, data_path, label)` -> `Comparison`:
  MLflow model URIs and a CSV or Parquet file, streamed in chunks and read
  once. Bad data (NaN or infinite values, no rows, one class, a missing
  column) raises `BadData`, a `UserInputError` whose one-line message names
  the column and the rows (`bot.evaluation.checks`).
- `compare_predictions(task, y_true, champion, challenger)`: the same statistics
  from prediction arrays (`Predictions(labels, scores=None, classes=None)`).
- `compare_metrics(champion, challenger)`: logged metrics side by side, no
  intervals (when no evaluation dataset is given).

Every value equals scikit-learn's metric on the same predictions (binary
metrics take the greater label as positive; multiclass precision, recall and
f1 are macro averages; multiclass roc_auc is macro one-vs-rest). The methods
behind the intervals and p-values are listed in `bot.evaluation.methods`.
"""

from bot.evaluation.checks import BadData
from bot.evaluation.compare import (
    DEFAULT_RESAMPLES,
    EvaluationResult,
    PairedEvaluation,
    compare_metrics,
    compare_predictions,
    comparison_of_predictions,
    evaluate_predictions,
)
from bot.evaluation.evaluate import Progress, evaluate_models, evaluate_scorers
from bot.evaluation.models import (
    HIST_GRADIENT_BOOSTING_TYPES,
    PyfuncScorer,
    Scorer,
    SklearnScorer,
    load_scorer,
)
from bot.evaluation.predictions import Predictions

__all__ = [
    "DEFAULT_RESAMPLES",
    "HIST_GRADIENT_BOOSTING_TYPES",
    "BadData",
    "EvaluationResult",
    "PairedEvaluation",
    "Predictions",
    "Progress",
    "PyfuncScorer",
    "Scorer",
    "SklearnScorer",
    "compare_metrics",
    "compare_predictions",
    "comparison_of_predictions",
    "evaluate_models",
    "evaluate_predictions",
    "evaluate_scorers",
    "load_scorer",
]
