"""The evaluation's curves as SVG charts: geometry and text, computed here, drawn by a template.

Every chart carries its text alternative: a title and a description for the SVG, and a
table of the points it draws, so that a reader who cannot see the picture gets the data.
Champion and challenger differ in colour and in line style (dashed / solid), so the charts
read without colour too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.curves import Curves, ModelCurves

WIDTH, HEIGHT = 360, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 44


@dataclass(frozen=True)
class Tick:
    """An axis mark: where (in pixels along the axis) and its label."""

    at: float
    label: str


@dataclass(frozen=True)
class Bar:
    """A rectangle of a bar chart, in pixels."""

    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Series:
    """One model's (or the reference's) marks: a polyline, or bars."""

    name: str
    role: str
    """`champion`, `challenger` or `reference`: the CSS class that styles it."""
    points: str = ""
    bars: tuple[Bar, ...] = ()


@dataclass(frozen=True)
class Chart:
    """One chart and its text alternative."""

    key: str
    title: str
    description: str
    x_label: str
    y_label: str
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


def _x(value: float, low: float = 0.0, high: float = 1.0) -> float:
    span = (high - low) or 1.0
    return round(LEFT + (value - low) / span * (WIDTH - LEFT - RIGHT), 1)


def _y(value: float, low: float = 0.0, high: float = 1.0) -> float:
    span = (high - low) or 1.0
    return round(HEIGHT - BOTTOM - (value - low) / span * (HEIGHT - TOP - BOTTOM), 1)


def _unit_ticks(axis: str) -> tuple[Tick, ...]:
    place = _x if axis == "x" else _y
    return tuple(Tick(place(v / 4), f"{v / 4:g}") for v in range(5))


def _polyline(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_x(x)},{_y(y)}" for x, y in points)


def _f(value: float) -> str:
    return f"{value:.3f}"


def evaluation_charts(
    curves: Curves | None, champion_version: str | None, version: str
) -> list[Chart]:
    """The charts of the curves the record holds, champion first where there is one."""
    if curves is None:
        return []
    sides: list[tuple[str, str, ModelCurves]] = []
    if curves.champion is not None:
        sides.append((f"champion v{champion_version or '?'}", "champion", curves.champion))
    sides.append((f"challenger v{version}", "challenger", curves.challenger))
    found = (_roc(sides), _calibration(sides), _classes(sides), _residuals(sides))
    return [chart for chart in found if chart is not None]


def _names(sides: Sequence[tuple[str, str, ModelCurves]]) -> str:
    styles = {"champion": "dashed", "challenger": "solid"}
    return ", ".join(f"{name} ({styles[role]})" for name, role, _ in sides)


def _roc(sides: list[tuple[str, str, ModelCurves]]) -> Chart | None:
    drawn = [(n, r, c) for n, r, c in sides if c.roc]
    if not drawn:
        return None
    series = [Series("chance", "reference", _polyline([(0, 0), (1, 1)]))]
    rows: list[tuple[str, ...]] = []
    for name, role, curve in drawn:
        points = [(p.false_positive_rate, p.true_positive_rate) for p in curve.roc]
        series.append(Series(name, role, _polyline(points)))
        rows += [(name, _f(x), _f(y)) for x, y in points]
    return Chart(
        key="roc",
        title="ROC curve",
        description=f"True positive rate against false positive rate for {_names(drawn)}; "
        "the dotted diagonal is chance. A curve nearer the top left corner separates the "
        "classes better.",
        x_label="false positive rate",
        y_label="true positive rate",
        x_ticks=_unit_ticks("x"),
        y_ticks=_unit_ticks("y"),
        series=tuple(series),
        head=("model", "false positive rate", "true positive rate"),
        rows=tuple(rows),
    )


def _calibration(sides: list[tuple[str, str, ModelCurves]]) -> Chart | None:
    drawn = [(n, r, c) for n, r, c in sides if c.calibration]
    if not drawn:
        return None
    series = [Series("perfect calibration", "reference", _polyline([(0, 0), (1, 1)]))]
    rows: list[tuple[str, ...]] = []
    for name, role, curve in drawn:
        points = [(b.mean_predicted, b.observed) for b in curve.calibration]
        series.append(Series(name, role, _polyline(points)))
        rows += [
            (name, f"{b.low:.1f}–{b.high:.1f}", _f(b.mean_predicted), _f(b.observed), str(b.count))
            for b in curve.calibration
        ]
    return Chart(
        key="calibration",
        title="Calibration",
        description=f"Share of rows that are positive against the mean predicted probability, "
        f"per bin of predicted probability, for {_names(drawn)}; the dotted diagonal is "
        "perfect calibration.",
        x_label="predicted probability",
        y_label="observed share of positives",
        x_ticks=_unit_ticks("x"),
        y_ticks=_unit_ticks("y"),
        series=tuple(series),
        head=("model", "bin", "mean predicted", "observed", "rows"),
        rows=tuple(rows),
    )


def _grouped_bars(
    groups: Sequence[str], values: Sequence[Sequence[float]], top: float
) -> list[tuple[Bar, ...]]:
    """Bars side by side in each group: `values[side][group]`, on a 0..top scale."""
    slot = (WIDTH - LEFT - RIGHT) / max(len(groups), 1)
    width = slot * 0.8 / max(len(values), 1)
    result = []
    for side, heights in enumerate(values):
        bars = []
        for index, value in enumerate(heights):
            x = LEFT + index * slot + slot * 0.1 + side * width
            y = _y(value, 0.0, top)
            bars.append(
                Bar(round(x, 1), y, round(width, 1), round(HEIGHT - BOTTOM - y, 1), groups[index])
            )
        result.append(tuple(bars))
    return result


def _group_ticks(groups: Sequence[str]) -> tuple[Tick, ...]:
    slot = (WIDTH - LEFT - RIGHT) / max(len(groups), 1)
    every = max(1, len(groups) // 8)
    return tuple(
        Tick(round(LEFT + (i + 0.5) * slot, 1), label[:10])
        for i, label in enumerate(groups)
        if i % every == 0
    )


def _classes(sides: list[tuple[str, str, ModelCurves]]) -> Chart | None:
    drawn = [(n, r, c) for n, r, c in sides if c.classes]
    if not drawn:
        return None
    labels = [score.label for score in drawn[-1][2].classes]
    scores = [{s.label: s for s in curve.classes} for _, _, curve in drawn]
    f1 = [[found[label].f1 if label in found else 0.0 for label in labels] for found in scores]
    bars = _grouped_bars(labels, f1, 1.0)
    rows = []
    for label in labels:
        cells: list[str] = [label, str(scores[-1][label].support)]
        for found in scores:
            score = found.get(label)
            cells += [_f(score.precision), _f(score.recall), _f(score.f1)] if score else ["—"] * 3
        rows.append(tuple(cells))
    head = ["class", "rows"]
    for name, _, _ in drawn:
        head += [f"{name} precision", f"{name} recall", f"{name} F1"]
    return Chart(
        key="classes",
        title="F1 per class",
        description=f"F1 of each class for {_names(drawn).replace('dashed', 'lighter')}, "
        "the classes with the most rows first.",
        x_label="class",
        y_label="F1",
        x_ticks=_group_ticks(labels),
        y_ticks=_unit_ticks("y"),
        series=tuple(Series(n, r, bars=b) for (n, r, _), b in zip(drawn, bars, strict=True)),
        head=tuple(head),
        rows=tuple(rows),
    )


def _residuals(sides: list[tuple[str, str, ModelCurves]]) -> Chart | None:
    drawn = [(n, r, c) for n, r, c in sides if c.residuals]
    if not drawn:
        return None
    edges = drawn[-1][2].residuals
    groups = [f"{(b.low + b.high) / 2:.3g}" for b in edges]
    counts = [[float(b.count) for b in curve.residuals] for _, _, curve in drawn]
    top = max((max(c) for c in counts if c), default=1.0) or 1.0
    bars = _grouped_bars(groups, counts, top)
    rows = [
        (f"{b.low:.3g} to {b.high:.3g}", *(str(int(c[i])) for c in counts))
        for i, b in enumerate(edges)
    ]
    y_ticks = tuple(Tick(_y(top * k / 4, 0.0, top), f"{top * k / 4:.0f}") for k in range(5))
    return Chart(
        key="residuals",
        title="Residuals",
        description=f"Rows per bin of residual (prediction minus label) for "
        f"{_names(drawn).replace('dashed', 'lighter')}; the end bins also hold the residuals "
        "beyond them. Narrower around 0 is better.",
        x_label="residual",
        y_label="rows",
        x_ticks=_group_ticks(groups),
        y_ticks=y_ticks,
        series=tuple(Series(n, r, bars=b) for (n, r, _), b in zip(drawn, bars, strict=True)),
        head=("residual", *(name for name, _, _ in drawn)),
        rows=tuple(rows),
    )
