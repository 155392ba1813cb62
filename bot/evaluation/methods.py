"""How each metric's interval and p-value are computed (the names the report shows).

| metric | `method` | how |
|---|---|---|
| accuracy, precision, recall, f1 | `multinomial paired bootstrap (B resamples)` | see (1) |
| roc_auc, binary | `DeLong` | see (2) |
| roc_auc, multiclass | `DeLong, macro one-vs-rest` | see (3) |
| log_loss | `paired t on per-row log loss` | see (4) |
| mae | `paired t on per-row absolute error` | see (4) |
| rmse | `paired t on squared errors; delta-method interval` | see (5) |
| r2 | `paired t on squared errors, labels fixed` | see (6) |

1. Rows resampled with replacement, drawn as multinomial counts over the
   (label, champion's class, challenger's class) cells with the observed
   shares: O(k^3) per resample whatever N, seeded. Percentile 95% interval of
   the delta; p = (1 + resamples in which the challenger is not better) / (1 + B).
   Binary and macro averages alike.
2. DeLong's paired variance from placement values (one sort per model,
   O(N log N)); normal interval, one-sided z test.
3. Macro average of the one-vs-rest AUCs; each row's placement values are
   summed over the classes and their variance taken within each true class
   (this is DeLong's formula when there are two classes).
4. t test and t interval of the mean per-row difference.
5. The p-value is the paired t on squared errors (rmse is lower exactly when
   the mean squared error is); the interval maps the covariance of both mean
   squared errors through the square root (delta method, normal).
6. delta r2 = (SSE_champion - SSE_challenger) / SST. With the labels held fixed
   (both models see the same ones) SST is a constant, so the interval and the
   p-value are the paired t on squared errors, scaled by n / SST.

Every interval is two-sided at 95% for `delta` = challenger - champion; every
p-value is one-sided for "the challenger is better" in the metric's
direction (smaller is better for log_loss, rmse, mae). A delta with no spread
at all (identical predictions) gets p = 1 when it does not favour the
challenger and p = 0 when it does.
"""

from __future__ import annotations

DELONG = "DeLong"
DELONG_OVR = "DeLong, macro one-vs-rest"
PAIRED_T_LOG_LOSS = "paired t on per-row log loss"
PAIRED_T_ABSOLUTE = "paired t on per-row absolute error"
PAIRED_T_RMSE = "paired t on squared errors; delta-method interval"
PAIRED_T_R2 = "paired t on squared errors, labels fixed"


def bootstrap(n_resamples: int) -> str:
    """Name of the confusion-matrix method with its number of resamples."""
    return f"multinomial paired bootstrap ({n_resamples} resamples)"
