"""Render reports, pull request bodies and comments from Jinja2 templates.

Templates are looked up first in the repository's own `templates/` folder, then
in the packaged defaults, so a team can override any of them by adding a file
with the same name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict, Field

from bot.domain.comparison import METRIC_DIRECTIONS, Comparison, Direction
from bot.domain.verdict import Verdict

PACKAGED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class ReportContext(BaseModel):
    """Everything a report shows besides the numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model name.")
    environment: str = Field(description="Environment.")
    champion_version: str | None = Field(description="Serving version; None on a first deployment.")
    challenger_version: str = Field(description="Proposed version.")
    policy_names: tuple[str, ...] = Field(default=(), description="Policies that applied.")
    generated_at: dt.datetime = Field(description="When the report was rendered (UTC).")
    pull_request: int | None = Field(default=None, description="Promotion pull request number.")


def environment(repo_root: Path | None = None) -> jinja2.Environment:
    """A Jinja2 environment that prefers the repository's templates."""
    loaders: list[jinja2.BaseLoader] = []
    if repo_root is not None and (repo_root / "templates").is_dir():
        loaders.append(jinja2.FileSystemLoader(repo_root / "templates"))
    loaders.append(jinja2.FileSystemLoader(PACKAGED_TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # noqa: S701 - Markdown for GitHub, which sanitises it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["signed"] = format_signed
    env.filters["pvalue"] = format_p_value
    return env


def format_number(value: float | None, digits: int = 4) -> str:
    """A metric value for a table cell."""
    return "—" if value is None else f"{value:.{digits}f}"


def format_signed(value: float | None, digits: int = 4) -> str:
    """A difference with its sign."""
    return "—" if value is None else f"{value:+.{digits}f}"


def format_p_value(value: float | None) -> str:
    """p-values: small ones in scientific notation."""
    if value is None:
        return "—"
    return "< 1e-6" if value < 1e-6 else (f"{value:.2e}" if value < 1e-3 else f"{value:.4f}")


def _chart(comparison: Comparison) -> dict[str, Any] | None:
    """Data of the Mermaid bar chart: metrics on a 0..1 scale, champion beside challenger."""
    names = [
        name
        for name, m in comparison.metrics.items()
        if 0.0 <= m.challenger <= 1.0
        and (m.champion is None or 0.0 <= m.champion <= 1.0)
        and METRIC_DIRECTIONS.get(name, Direction.MAXIMIZE) is Direction.MAXIMIZE
    ]
    if not names:
        return None
    return {
        "metrics": names,
        "champion": [comparison.metrics[n].champion for n in names],
        "challenger": [comparison.metrics[n].challenger for n in names],
    }


def _values(comparison: Comparison, verdict: Verdict | None, ctx: ReportContext) -> dict[str, Any]:
    return {
        "ctx": ctx,
        "comparison": comparison,
        "verdict": verdict,
        "chart": _chart(comparison),
        "methods": sorted({m.method for m in comparison.metrics.values() if m.method}),
    }


def render_report(
    comparison: Comparison,
    verdict: Verdict | None,
    ctx: ReportContext,
    repo_root: Path | None = None,
) -> str:
    """The champion-versus-challenger report in Markdown."""
    template = environment(repo_root).get_template("report.md.j2")
    return template.render(**_values(comparison, verdict, ctx))


def render_template(name: str, repo_root: Path | None = None, **values: Any) -> str:
    """Any other template (pull request body, comments) with the given values."""
    return environment(repo_root).get_template(name).render(**values)
