"""`promobot check`: a pull request's manifests must agree with the registry and pass the policy.

Metrics in a manifest are never trusted from the pull request: they are
recomputed from the registry, and a manifest that disagrees fails.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bot.domain.comparison import Comparison
from bot.domain.layout import (
    POLICY_FOLDER,
    Promotion,
    is_manifest_path,
    is_yaml,
    manifest_path,
)
from bot.domain.manifest import ModelManifest
from bot.domain.policy import Policy
from bot.domain.record import DecisionRecord, record_mismatches, record_path
from bot.domain.resolution import PolicyResolutionError, resolve_policy
from bot.domain.verdict import Outcome, Verdict, decide
from bot.errors import UnknownModelVersion, UserInputError
from bot.forge.base import Annotation, AnnotationLevel
from bot.formats.loading import InvalidFile, load_manifest_text, load_policy_texts
from bot.formats.yamlsource import parse_yaml
from bot.registry.base import ModelVersionInfo, Registry
from bot.signing import SIGNATURE_SUFFIX
from bot.workflows.inputs import compare
from bot.workflows.verdicts import annotations_of

ReadFile = Callable[[str], str | None]
"""Text of a path at one side of the change, None when absent."""
ListFiles = Callable[[str], list[str]]
"""Paths below a folder at the base of the change."""

TOLERANCE = 1e-6


@dataclass
class CheckReport:
    """What the check found: one line per finding, failures first."""

    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    def summary(self) -> str:
        """One line for a commit status."""
        if self.passed:
            return f"passed: {'; '.join(self.notes) or 'nothing to check'}"[:140]
        return f"failed: {self.failures[0]}"[:140]


def metric_mismatches(manifest: ModelManifest, info: ModelVersionInfo) -> list[str]:
    """Where the manifest's source and metrics disagree with the registry."""
    problems = []
    if manifest.source.run_id and info.run_id and manifest.source.run_id != info.run_id:
        problems.append(
            f"source.run_id is {manifest.source.run_id}, the registry says {info.run_id}"
        )
    for name, value in sorted(manifest.metrics.items()):
        actual = info.metrics.get(name)
        if actual is None:
            problems.append(f"metrics.{name} is not logged for v{info.version} in the registry")
        elif not math.isclose(value, actual, rel_tol=0, abs_tol=TOLERANCE):
            problems.append(f"metrics.{name} is {value}, the registry says {actual:.6f}")
    return problems


def _metric_annotations(
    text: str, path: str, manifest: ModelManifest, info: ModelVersionInfo
) -> list[Annotation]:
    """Each metric the registry disagrees with, at its line of the manifest."""
    document = parse_yaml(text, path)
    found = []
    for name, value in sorted(manifest.metrics.items()):
        actual = info.metrics.get(name)
        if actual is not None and math.isclose(value, actual, rel_tol=0, abs_tol=TOLERANCE):
            continue
        line, _ = document.position(("metrics", name))
        said = "is not logged" if actual is None else f"is {actual:.6f}"
        found.append(
            Annotation(
                path=path,
                start_line=line,
                end_line=line,
                level=AnnotationLevel.FAILURE,
                title=f"metrics.{name}",
                message=f"the registry says v{info.version}'s {name} {said}, not {value}",
            )
        )
    return found


def _check_record(
    head: ModelManifest,
    read_head: ReadFile,
    comparison: Comparison,
    policy: Policy,
    verdict: Verdict,
    report: CheckReport,
) -> None:
    """The decision record beside the manifest, when there is one, must say what the
    evidence gives; a pull request may not claim another decision than the bot's."""
    where = record_path(head.model, head.environment)
    text = read_head(where)
    if text is None:
        return
    try:
        record = DecisionRecord.model_validate(json.loads(text))
    except (ValueError, ValidationError) as error:
        report.failures.append(f"{where}: not a decision record: {str(error).splitlines()[0]}")
        return
    problems = record_mismatches(
        record, version=head.version, comparison=comparison, policy=policy, verdict=verdict
    )
    report.failures.extend(f"{where}: {problem}" for problem in problems)
    if not problems:
        report.notes.append(f"{where}: matches the registry and the evaluation")


def check_change(
    data_root: Path | None,
    tracking_uri: str | None,
    registry: Registry,
    changed: Sequence[str],
    read_head: ReadFile,
    read_base: ReadFile,
    list_base: ListFiles,
    promotion: Promotion | None = None,
) -> CheckReport:
    """Check every changed manifest of a pull request.

    A promotion pull request (`promotion` names its model and environment) may change
    its one manifest and nothing else.
    """
    report = CheckReport()
    if promotion is not None:
        own = manifest_path(promotion.model, promotion.environment)
        record = record_path(promotion.model, promotion.environment)
        allowed = {own, record, record + SIGNATURE_SUFFIX}
        extra = sorted(set(changed) - allowed)
        if extra:
            report.failures.append(
                f"a promotion pull request changes only {own} and its decision record; "
                f"it also changes {', '.join(extra)}"
            )
    manifests = [p for p in changed if is_manifest_path(p)]
    if manifests and any(p.startswith(f"{POLICY_FOLDER}/") for p in changed):
        report.failures.append(
            "changes policies/ and model-manifests/ together; open one pull request for each"
        )
        return report
    # The policies at the base are read once, whatever the number of manifests.
    policy_texts = {p: read_base(p) or "" for p in list_base(POLICY_FOLDER) if is_yaml(p)}
    for path in manifests:
        _check_manifest(
            data_root, tracking_uri, registry, path, read_head, read_base, policy_texts, report
        )
    return report


def _check_manifest(
    data_root: Path | None,
    tracking_uri: str | None,
    registry: Registry,
    path: str,
    read_head: ReadFile,
    read_base: ReadFile,
    policy_texts: dict[str, str],
    report: CheckReport,
) -> None:
    text = read_head(path)
    if text is None:
        report.notes.append(f"{path} removed")
        return
    try:
        head = load_manifest_text(text, path)
        base_text = read_base(path)
        base = None if base_text is None else load_manifest_text(base_text, path)
        policy = resolve_policy(load_policy_texts(policy_texts), head.model, head.environment)
        challenger = registry.get_version(head.model, head.version)
        champion = None if base is None else registry.get_version(base.model, base.version)
    except (InvalidFile, PolicyResolutionError, UserInputError, UnknownModelVersion) as exc:
        report.failures.append(f"{path}: {exc}")
        report.annotations.extend(annotations_of(exc))
        return
    mismatches = metric_mismatches(head, challenger)
    report.failures.extend(f"{path}: {m}" for m in mismatches)
    if mismatches:
        report.annotations.extend(_metric_annotations(text, path, head, challenger))
    if base is not None and base.version == head.version:
        report.notes.append(f"{path}: version unchanged (v{head.version})")
        return
    comparison = compare(data_root, tracking_uri, policy, champion, challenger)
    verdict = decide(comparison, policy)
    _check_record(head, read_head, comparison, policy, verdict, report)
    if verdict.verdict is Outcome.REJECT:
        report.failures.append(
            f"{path}: v{head.version} fails {', '.join(r.name for r in verdict.failed)}"
        )
    else:
        report.notes.append(f"{path}: v{head.version} passes {', '.join(policy.names)}")
