"""The evaluation's curves as Mermaid `xychart-beta` charts, which GitHub draws in Markdown.

GitHub renders a fenced `mermaid` block as a diagram:
https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting/creating-diagrams
The chart syntax (title, `x-axis [categories]`, `y-axis "title" min --> max`, `line [...]`,
`bar [...]`) is Mermaid's: https://mermaid.js.org/syntax/xyChart.html. A series is a list
of y values spread evenly over the x categories, without a legend: so every curve is
resampled on fixed x positions here, and each chart comes with a caption that says which
line is which model (the text a reader without the picture gets too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.domain.curves import CalibrationBin, Curves, ModelCurves, RocPoint

ROC_GRID = tuple(i / 10 for i in range(11))
"""False positive rates at which the ROC curves are drawn."""
CALIBRATION_CENTRES = tuple((i + 0.5) / 10 for i in range(10))
MAX_LABEL = 24


@dataclass(frozen=True)
class MermaidChart:
    """One chart: a caption for the text and the `xychart-beta` source."""

    caption: str
    source: str


def curve_charts(
    curves: Curves | None, champion_version: str | None, challenger_version: str
) -> list[MermaidChart]:
    """The charts of `curves` (none when there are none), champion first where both are."""
    if curves is None:
        return []
    sides = [(f"champion v{champion_version or '?'}", curves.champion)] if curves.champion else []
    sides.append((f"challenger v{challenger_version}", curves.challenger))
    charts = (_roc(sides), _calibration(sides), _classes(sides), _residuals(sides))
    return [chart for chart in charts if chart is not None]


def legend(kind: str, names: Sequence[str]) -> str:
    """`first line: chance; second line: champion v6; third line: challenger v7`."""
    ordinals = ("first", "second", "third", "fourth")
    return "; ".join(f"{ordinals[i]} {kind}: {name}" for i, name in enumerate(names))


def _roc(sides: list[tuple[str, ModelCurves]]) -> MermaidChart | None:
    drawn = [(name, curve.roc) for name, curve in sides if curve.roc]
    if not drawn:
        return None
    lines = [f"    line [{_numbers(ROC_GRID)}]"]
    lines += [f"    line [{_numbers(roc_at(points, ROC_GRID))}]" for _, points in drawn]
    names = ["chance", *(name for name, _ in drawn)]
    caption = "ROC curve (true against false positive rate); " + legend("line", names)
    return MermaidChart(
        caption=caption,
        source=_chart(
            "ROC curve",
            f'x-axis "false positive rate" [{_numbers(ROC_GRID, 1)}]',
            'y-axis "true positive rate" 0 --> 1',
            lines,
        ),
    )


def roc_at(points: Sequence[RocPoint], grid: Sequence[float]) -> list[float]:
    """The ROC curve's true positive rate at each false positive rate of `grid`.

    Where the curve rises straight up at one rate, the top of the rise counts.
    """
    best: dict[float, float] = {0.0: 0.0}
    for point in points:
        x = point.false_positive_rate
        best[x] = max(best.get(x, 0.0), point.true_positive_rate)
    xs = sorted(best)
    return [float(v) for v in np.interp(grid, xs, [best[x] for x in xs])]


def _calibration(sides: list[tuple[str, ModelCurves]]) -> MermaidChart | None:
    drawn = [(name, curve.calibration) for name, curve in sides if curve.calibration]
    if not drawn:
        return None
    lines = [f"    line [{_numbers(CALIBRATION_CENTRES)}]"]
    lines += [f"    line [{_numbers(observed_at(bins, CALIBRATION_CENTRES))}]" for _, bins in drawn]
    names = ["perfect calibration", *(name for name, _ in drawn)]
    caption = "Calibration (observed share of positives against predicted probability); " + (
        legend("line", names)
    )
    return MermaidChart(
        caption=caption + "; bins without rows are interpolated",
        source=_chart(
            "Calibration",
            f'x-axis "predicted probability" [{_numbers(CALIBRATION_CENTRES, 2)}]',
            'y-axis "observed positives" 0 --> 1',
            lines,
        ),
    )


def observed_at(bins: Sequence[CalibrationBin], centres: Sequence[float]) -> list[float]:
    """Observed share of positives at each bin centre; empty bins from their neighbours."""
    xs = [(b.low + b.high) / 2 for b in bins]
    return [float(v) for v in np.interp(centres, xs, [b.observed for b in bins])]


def _classes(sides: list[tuple[str, ModelCurves]]) -> MermaidChart | None:
    """F1 per class: the challenger as bars, the champion as a line over them (Mermaid draws
    two bar series on top of each other, so one would hide the other)."""
    drawn = [(name, curve.classes) for name, curve in sides if curve.classes]
    if not drawn:
        return None
    labels = [score.label for score in drawn[-1][1]]
    values = []
    for _, scores in drawn:
        by_label = {score.label: score.f1 for score in scores}
        values.append(_numbers([by_label.get(label, 0.0) for label in labels]))
    series = [f"    bar [{values[-1]}]"] + [f"    line [{v}]" for v in values[:-1]]
    caption = f"F1 per class; bars: {drawn[-1][0]}" + (
        f"; line: {drawn[0][0]}" if len(drawn) > 1 else ""
    )
    return MermaidChart(
        caption=caption,
        source=_chart(
            "F1 per class",
            f'x-axis "class" [{", ".join(_quoted(label) for label in labels)}]',
            'y-axis "F1" 0 --> 1',
            series,
        ),
    )


def _residuals(sides: list[tuple[str, ModelCurves]]) -> MermaidChart | None:
    """Rows per residual bin, one line per model (bars of two series would overlap)."""
    drawn = [(name, curve.residuals) for name, curve in sides if curve.residuals]
    if not drawn:
        return None
    edges = drawn[-1][1]
    centres = [_short((b.low + b.high) / 2) for b in edges]
    highest = max(b.count for _, bins in drawn for b in bins) or 1
    lines = [f"    line [{', '.join(str(b.count) for b in bins)}]" for _, bins in drawn]
    caption = "Residuals (prediction - label), rows per bin; " + legend(
        "line", [name for name, _ in drawn]
    )
    return MermaidChart(
        caption=caption + "; the end bins also hold the residuals beyond them",
        source=_chart(
            "Residuals",
            f'x-axis "residual" [{", ".join(_quoted(c) for c in centres)}]',
            f'y-axis "rows" 0 --> {highest}',
            lines,
        ),
    )


def _chart(title: str, x_axis: str, y_axis: str, series: list[str]) -> str:
    return "\n".join(
        ["xychart-beta", f"    title {_quoted(title)}", f"    {x_axis}", f"    {y_axis}", *series]
    )


def _numbers(values: Sequence[float], digits: int = 3) -> str:
    return ", ".join(f"{value:.{digits}f}" for value in values)


def _short(value: float) -> str:
    return f"{value:.3g}"


def _quoted(text: str) -> str:
    """A Mermaid string: no quotes, brackets or line breaks inside, at most `MAX_LABEL` long."""
    cleaned = re.sub(r"[\"\[\]\n\r`]", "'", text).strip()[:MAX_LABEL]
    return f'"{cleaned}"'
