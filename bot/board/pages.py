"""The board's HTML, rendered from the packaged `templates/board*.j2` with escaping on.

The board's templates are the product's own: a repository's `templates/` does not override
them, so no repository writer can put markup or script into the page. They render in
Jinja2's immutable sandbox all the same, as every template of promobot does.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.board.charts import evaluation_charts
from bot.board.views import Board, ModelPage
from bot.report.render import PACKAGED_TEMPLATES, format_number, format_p_value, format_signed


@functools.cache
def _environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(PACKAGED_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_time
    env.filters["num"] = format_number
    env.filters["signed"] = format_signed
    env.filters["pvalue"] = format_p_value
    env.filters["share"] = format_share
    return env


def format_time(value: dt.datetime | None) -> str:
    """`2026-12-07 09:00 UTC`; a dash for none."""
    if value is None:
        return "—"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_share(value: float) -> str:
    """An error rate: `0.40%`."""
    return f"{value:.2%}"


def render(name: str, **values: Any) -> str:
    """A board template with `values`."""
    return _environment().get_template(name).render(**values)


def board_page(board: Board, root: str, cache_seconds: float, is_open: bool) -> str:
    """The grid of models × environments."""
    return render(
        "board.html.j2", board=board, root=root, cache_seconds=cache_seconds, is_open=is_open
    )


def model_page(page: ModelPage, root: str, cache_seconds: float, is_open: bool) -> str:
    """One model's page, with the charts of its newest evaluation."""
    evaluation = page.evaluation
    charts = (
        []
        if evaluation is None
        else evaluation_charts(evaluation.curves, evaluation.champion_version, evaluation.version)
    )
    return render(
        "board_model.html.j2",
        page=page,
        charts=charts,
        root=root,
        cache_seconds=cache_seconds,
        is_open=is_open,
    )


def login_page(root: str, next_path: str, failed: bool) -> str:
    """The form that asks for the board's token."""
    return render("board_login.html.j2", root=root, next_path=next_path, failed=failed)


def missing_page(root: str, what: str, *, failed: bool = False) -> str:
    """A plain page saying what was not found, or (`failed`) what went wrong."""
    return render("board_missing.html.j2", root=root, what=what, failed=failed)


@functools.cache
def stylesheet() -> str:
    """The board's CSS (a template, so it ships with the others)."""
    return render("board.css.j2")
