"""`promobot validate`: every file, every problem, each at its line and column."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.comparison import METRIC_DIRECTIONS
from bot.domain.policy import PolicyFile
from bot.domain.resolution import SourcedPolicy, find_conflicts
from bot.formats.limits import RefusedFile, read_text_file
from bot.formats.loading import InvalidFile, Loaded, parse_text, yaml_files
from bot.formats.problems import Problem
from bot.formats.yamlsource import YamlDocument


@dataclass
class Report:
    """What validation found."""

    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file has a problem."""
        return not self.problems


def _metric_problems(path: str, doc: YamlDocument, policy: PolicyFile) -> list[Problem]:
    """Metrics promobot does not know need an explicit direction."""
    if policy.compare is None:
        return []
    found: list[Problem] = []
    rules: list[tuple[tuple[str | int, ...], str, object]] = [
        (("compare", "primary"), policy.compare.primary.metric, policy.compare.primary.direction)
    ]
    rules += [
        (("compare", "guardrails", i), g.metric, g.direction)
        for i, g in enumerate(policy.compare.guardrails)
    ]
    rules += [
        (("compare", "thresholds", i), t.metric, t.direction)
        for i, t in enumerate(policy.compare.thresholds)
    ]
    for loc, metric, direction in rules:
        if metric not in METRIC_DIRECTIONS and direction is None:
            line, col = doc.position((*loc, "metric"))
            known = ", ".join(METRIC_DIRECTIONS)
            found.append(
                Problem(
                    path,
                    line,
                    col,
                    ".".join(str(p) for p in (*loc, "metric")),
                    f"unknown metric {metric!r}: add `direction: maximize|minimize` "
                    f"or use one of {known}",
                )
            )
    return found


def validate_paths(paths: Iterable[Path], root: Path | None = None) -> Report:
    """Validate every YAML file named or found below the folders named."""
    report = Report()
    policies: list[SourcedPolicy] = []
    for file in yaml_files(paths):
        shown = _display(file, root)
        report.checked.append(shown)
        try:
            text = read_text_file(file, shown)
        except RefusedFile as exc:
            report.problems.append(exc.problem)
            continue
        try:
            loaded: Loaded = parse_text(text, shown)
        except InvalidFile as exc:
            report.problems.extend(exc.problems)
            continue
        if isinstance(loaded.model, PolicyFile):
            report.problems.extend(_metric_problems(shown, loaded.document, loaded.model))
            policies.append(SourcedPolicy(shown, loaded.model))
    report.problems.extend(_policy_set_problems(policies))
    return report


def _policy_set_problems(policies: Sequence[SourcedPolicy]) -> list[Problem]:
    problems = [
        Problem(p.split(" and ")[0], 1, 1, "applies_to", p) for p in find_conflicts(policies)
    ]
    seen: dict[str, str] = {}
    for item in policies:
        if item.policy.name in seen:
            problems.append(
                Problem(
                    item.path,
                    1,
                    1,
                    "name",
                    f"policy name {item.policy.name!r} is also used by {seen[item.policy.name]}; "
                    "names must be unique",
                )
            )
        seen.setdefault(item.policy.name, item.path)
    return problems


def _display(path: Path, root: Path | None) -> str:
    base = root or Path.cwd()
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
