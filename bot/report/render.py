"""Render reports, pull request bodies and comments from Jinja2 templates.

Templates are looked up first in the repository's own `templates/` folder, then
in the packaged defaults, so a team can override any of them by adding a file
with the same name.

Anyone who can push to the repository writes its templates, so every template, packaged
or not, renders in Jinja2's immutable sandbox: no attribute starting with `_`, no
internals of functions or frames, no changing of the values given. A repository template
that is not a regular file, is over 1 MB, does not parse or fails while rendering is
replaced by the packaged one of the same name, and the text starts with a note naming
the file, the line and the reason, so that whoever reads the comment can fix it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from bot.domain.comparison import METRIC_DIRECTIONS, Comparison, Direction
from bot.domain.verdict import Verdict
from bot.report.mermaid import curve_charts

logger = logging.getLogger(__name__)

PACKAGED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
REPOSITORY_TEMPLATES = "templates"
"""The folder of a repository whose templates override the packaged ones."""
MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_RENDERED_CHARS = 1024 * 1024
"""A template whose text grows past this is stopped (GitHub keeps 65,536 per comment)."""


class TemplateRefused(jinja2.TemplateError):
    """A repository template promobot will not read (`path` names it), or whose text grew
    too long."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class TemplateProblem:
    """Why a repository template was not used: its file, line (when known) and reason."""

    path: str
    line: int | None
    reason: str

    def describe(self) -> str:
        where = f"`{self.path}`" + ("" if self.line is None else f" line {self.line}")
        return f"{where}: `{self.reason}`; the packaged template was used"

    def note(self) -> str:
        """The note that heads the rendered text."""
        return f"> **promobot**: {self.describe()}.\n\n"


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
    """A sandboxed Jinja2 environment that prefers the repository's templates."""
    loaders: list[jinja2.BaseLoader] = []
    if repo_root is not None:
        loaders.append(RepositoryLoader(repo_root / REPOSITORY_TEMPLATES))
    loaders.append(jinja2.FileSystemLoader(PACKAGED_TEMPLATES))
    return _sandbox(jinja2.ChoiceLoader(loaders))


@functools.cache
def _packaged_environment() -> jinja2.Environment:
    return _sandbox(jinja2.FileSystemLoader(PACKAGED_TEMPLATES))


def _sandbox(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=False,  # Markdown for GitHub, which sanitises it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["signed"] = format_signed
    env.filters["pvalue"] = format_p_value
    return env


class RepositoryLoader(jinja2.BaseLoader):
    """Templates from a repository's folder: regular files of at most 1 MB, in UTF-8.

    Git stores symbolic links, so neither the folder, nor a folder in it, nor a template
    may be one: a link could point at the bot's own files or at a device that never ends.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_source(
        self, _environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)
        path = self.folder.joinpath(*pieces)
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        folder = self.folder
        for piece in ["", *pieces[:-1]]:
            folder = folder / piece
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                shown = folder.relative_to(self.folder.parent).as_posix()
                raise TemplateRefused("not a directory", f"{shown}/")
        shown = f"{REPOSITORY_TEMPLATES}/{'/'.join(pieces)}"
        return read_template_file(path, shown), str(path), lambda: False


def read_template_file(path: Path, shown: str) -> str:
    """The text of a regular file of at most 1 MB in UTF-8, or `TemplateRefused` that
    names it as `shown`. The file is opened without following a link, and checked again once
    open, so that it cannot be swapped in between."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise TemplateRefused("not a regular file", shown)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise TemplateRefused(f"cannot be opened: {error.strerror}", shown) from None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise TemplateRefused("not a regular file", shown)
        data = file.read(MAX_TEMPLATE_BYTES + 1)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise TemplateRefused(f"larger than {MAX_TEMPLATE_BYTES} bytes (1 MB)", shown)
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        raise TemplateRefused(f"not UTF-8 ({error.reason})", shown) from None


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
        "curve_charts": curve_charts(
            comparison.curves, ctx.champion_version, ctx.challenger_version
        ),
        "methods": sorted({m.method for m in comparison.metrics.values() if m.method}),
    }


def render_report(
    comparison: Comparison,
    verdict: Verdict | None,
    ctx: ReportContext,
    repo_root: Path | None = None,
) -> str:
    """The champion-versus-challenger report in Markdown."""
    return render_template("report.md.j2", repo_root, **_values(comparison, verdict, ctx))


def render_template(name: str, repo_root: Path | None = None, **values: Any) -> str:
    """Any template (report, pull request body, comments) with the given values; a
    repository template that fails gives way to the packaged one, under a note."""
    text, problem = render_checked(name, repo_root, values)
    return text if problem is None else problem.note() + text


def render_checked(
    name: str, repo_root: Path | None, values: dict[str, Any]
) -> tuple[str, TemplateProblem | None]:
    """The rendered text, and why the repository's template was not used if it failed."""
    if repo_root is None or not os.path.lexists(repo_root / REPOSITORY_TEMPLATES / name):
        return _generate(_packaged_environment(), name, values), None
    try:
        return _generate(environment(repo_root), name, values), None
    except Exception as error:
        problem = locate(error, repo_root, name)
        logger.warning("repository template refused: %s", problem.describe())
    return _generate(_packaged_environment(), name, values), problem


def _generate(env: jinja2.Environment, name: str, values: dict[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    for part in env.get_template(name).generate(**values):
        size += len(part)
        if size > MAX_RENDERED_CHARS:
            raise TemplateRefused(f"the text grows past {MAX_RENDERED_CHARS} characters")
        parts.append(part)
    return "".join(parts)


def locate(error: Exception, repo_root: Path, name: str) -> TemplateProblem:
    """The repository file and line a template error comes from, and its reason on one line."""
    folder = str(repo_root / REPOSITORY_TEMPLATES) + os.sep
    filename: str | None = None
    line: int | None = None
    if isinstance(error, jinja2.TemplateSyntaxError):
        filename, line = error.filename, error.lineno
    else:
        filename, line = _innermost_template_frame(error.__traceback__, folder)
    path = f"{REPOSITORY_TEMPLATES}/{name}"
    if isinstance(error, TemplateRefused) and error.path is not None:
        path, line = error.path, None
    elif filename is not None and filename.startswith(folder):
        path = Path(filename).relative_to(repo_root).as_posix()
    reason = error.message if isinstance(error, jinja2.TemplateError) else None
    reason = reason or f"{type(error).__name__}: {error}"
    reason = " ".join(reason.split()).rstrip(".").replace("`", "'")
    return TemplateProblem(path, line, reason[:300])


def _innermost_template_frame(
    trace: TracebackType | None, folder: str
) -> tuple[str | None, int | None]:
    """Jinja2 rewrites tracebacks so that template code shows as frames of the template
    file at its own line numbers: the last such frame is where the template failed."""
    found: tuple[str | None, int | None] = (None, None)
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        if filename.startswith(folder):
            found = (filename, trace.tb_lineno)
        trace = trace.tb_next
    return found
