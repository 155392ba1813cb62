"""The curves as pictures: Mermaid charts in the pull request report, SVG on the board."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.board.charts import HEIGHT, LEFT, WIDTH, evaluation_charts
from bot.domain.comparison import Comparison, Provenance, Task
from bot.domain.curves import Curves, ModelCurves, RocPoint
from bot.evaluation.compare import compare_metrics
from bot.report.mermaid import ROC_GRID, curve_charts, roc_at
from bot.report.render import ReportContext, render_report
from tests.board.world import binary_curves, multiclass_curves, regression_curves

CURVES = {
    Task.BINARY: binary_curves,
    Task.MULTICLASS: multiclass_curves,
    Task.REGRESSION: regression_curves,
}


def report(task: Task, curves: Curves | None) -> str:
    comparison = Comparison(
        task=task,
        n=400,
        metrics=compare_metrics({"f1": 0.8}, {"f1": 0.85}),
        provenance=Provenance(code_version="test"),
        curves=curves,
    )
    ctx = ReportContext(
        model="churn",
        environment="production",
        champion_version="6",
        challenger_version="7",
        generated_at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
    )
    return render_report(comparison, None, ctx)


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize(
    ("task", "titles", "series"),
    [
        (Task.BINARY, ["ROC curve", "Calibration"], "line"),
        (Task.MULTICLASS, ["F1 per class"], "bar|line"),
        (Task.REGRESSION, ["Residuals"], "line"),
    ],
)
def test_the_report_draws_the_curves_as_mermaid_xy_charts(
    task: Task, titles: list[str], series: str
) -> None:
    """GitHub draws `xychart-beta` blocks in a pull request body: the report carries the
    same curves as the board, each with a caption saying which series is which model."""
    blocks = mermaid_blocks(report(task, CURVES[task]()))[1:]  # the first is the metrics bars
    assert [re.search(r'title "(.*)"', b).group(1) for b in blocks] == titles  # type: ignore[union-attr]
    for block in blocks:
        lines = block.splitlines()
        assert lines[0] == "xychart-beta"
        categories = re.search(r"x-axis \"[^\"]+\" \[(.*)\]", block)
        assert categories is not None
        count = len(categories.group(1).split(", "))
        values = [line for line in lines if re.match(rf"\s+({series}) \[", line)]
        assert len(values) >= 2  # champion and challenger (and a reference line)
        for line in values:
            assert len(line.split("[", 1)[1].rstrip("]").split(", ")) == count
    text = report(task, CURVES[task]())
    assert "champion v6" in text and "challenger v7" in text


def test_a_report_without_curves_has_no_curve_section() -> None:
    """Evaluations on logged metrics have no curves: the report says nothing about them."""
    assert "Curves on the evaluation data" not in report(Task.BINARY, None)


def test_roc_is_resampled_on_fixed_rates_taking_the_top_of_each_rise() -> None:
    """Mermaid spreads a series evenly over its categories: the ROC is read at fixed false
    positive rates, and where it rises straight up, at the top of the rise."""
    points = (
        RocPoint(false_positive_rate=0.0, true_positive_rate=0.0),
        RocPoint(false_positive_rate=0.0, true_positive_rate=0.6),
        RocPoint(false_positive_rate=0.5, true_positive_rate=0.9),
        RocPoint(false_positive_rate=1.0, true_positive_rate=1.0),
    )
    values = roc_at(points, ROC_GRID)
    assert values[0] == pytest.approx(0.6)
    assert values[5] == pytest.approx(0.9)
    assert values[-1] == pytest.approx(1.0)


def test_class_names_cannot_break_the_chart() -> None:
    """A class named with quotes or brackets stays one category of the chart."""
    curves = Curves(
        champion=None,
        challenger=ModelCurves(
            classes=({"label": 'say "hi" [x]', "precision": 1, "recall": 1, "f1": 1, "support": 3},)
        ),
    )
    (chart,) = curve_charts(curves, None, "2")
    assert "\"say 'hi' 'x'\"" in chart.source


@pytest.mark.parametrize("task", list(Task))
def test_board_charts_have_text_alternatives_with_every_point(task: Task) -> None:
    """Each SVG chart comes with a title, a description and a table: the table lists every
    point it draws, and every mark lies inside the chart."""
    curves = CURVES[task]()
    charts = evaluation_charts(curves, "6", "7")
    assert charts
    for chart in charts:
        assert chart.title and chart.description and chart.head
        drawn = 0
        for series in chart.series:
            if series.role == "reference":
                continue
            for pair in series.points.split():
                x, y = (float(v) for v in pair.split(","))
                assert LEFT <= x <= WIDTH and 0 <= y <= HEIGHT
                drawn += 1
            for bar in series.bars:
                assert bar.height >= 0 and LEFT <= bar.x <= WIDTH
            if series.bars:
                assert len(series.bars) == len(chart.rows)
        if drawn:
            assert drawn == len(chart.rows)
