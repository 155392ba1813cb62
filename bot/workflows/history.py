"""`promobot history MODEL`: promotions and rollbacks, read from the git log of its manifests.

Git is the audit trail: every commit that changed `model-manifests/<env>/<model>.yaml`
is one entry — when, who, the pull request (from the squash subject `Title (#N)`
or the manifest's `evaluation.pull_request`), the version before and after, the
metrics the manifest recorded, and whether the commit reverts another.
With it comes the decision record the commit wrote beside the manifest (commits from
before records read without one) and the approvals of its `Approved-by:` trailers.
Old manifests are read leniently: history must stay readable after the format evolves.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.layout import MANIFEST_FOLDER, YAML_SUFFIXES
from bot.domain.promotion import State, merged_state
from bot.domain.record import DecisionRecord, record_path
from bot.formats.yamlsource import YamlSyntaxError, parse_yaml
from bot.gitrepo import CommitRecord, GitRepo

_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")
_MERGE_PR = re.compile(r"^Merge pull request #(\d+)\b")
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_REVERT_SUBJECT = re.compile(r'^Revert "(.*)"')


class HistoryKind(enum.StrEnum):
    """What a commit did to a model's manifest; `rejected` is a version a decision record
    refused (the board lists them; the manifest's own history never holds one)."""

    DEPLOYMENT = "deployment"
    PROMOTION = "promotion"
    ROLLBACK = "rollback"
    UPDATE = "update"
    REMOVAL = "removal"
    REJECTED = "rejected"


class HistoryEntry(BaseModel):
    """One commit that changed a model's manifest in one environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commit: str = Field(description="Commit SHA.")
    committed_at: dt.datetime = Field(description="When it landed on the branch.")
    author: str = Field(description="Author name.")
    author_email: str = Field(description="Author e-mail.")
    environment: str = Field(description="Environment of the manifest.")
    kind: HistoryKind = Field(description="deployment, promotion, rollback, update or removal.")
    from_version: str | None = Field(description="Version before the commit; None if new.")
    to_version: str | None = Field(description="Version after the commit; None if removed.")
    pull_request: int | None = Field(description="Pull request the commit came from.")
    is_revert: bool = Field(description="True for a `git revert` commit.")
    reverts: str | None = Field(description="SHA the commit reverts, when its message says.")
    reverts_pull_request: int | None = Field(
        description="Pull request of the reverted commit, from the revert's subject."
    )
    metrics: dict[str, float] = Field(description="Metrics the manifest recorded after it.")
    subject: str = Field(description="First line of the commit message.")
    approved_by: tuple[str, ...] = Field(
        default=(), description="Approvals that counted, from the `Approved-by:` trailers."
    )
    record: DecisionRecord | None = Field(
        default=None,
        description="The decision record the commit wrote beside the manifest, when it did.",
    )
    state: State | None = Field(
        default=None,
        description="For a promotion or first deployment: merged, or rolled_back when a later "
        "commit reverts it.",
    )

    def is_reverted_by(self, later: HistoryEntry) -> bool:
        """`later` is a revert of this commit or of this commit's pull request."""
        if not later.is_revert or later.environment != self.environment:
            return False
        if later.reverts is not None and self.commit.startswith(later.reverts):
            return True
        return self.pull_request is not None and later.reverts_pull_request == self.pull_request


def pull_request_of_message(message: str) -> int | None:
    """`Title (#N)` (squash) or `Merge pull request #N …` (merge) -> N."""
    subject = message.strip().split("\n", 1)[0]
    found = _SQUASH_PR.search(subject) or _MERGE_PR.match(subject)
    return int(found.group(1)) if found else None


def reverted_pull_request(message: str) -> int | None:
    """`Revert "Promote churn (#7)"` -> 7: the promotion a revert undoes."""
    found = _REVERT_SUBJECT.match(message.strip().split("\n", 1)[0])
    return pull_request_of_message(found.group(1)) if found else None


def is_revert_message(message: str) -> bool:
    """True for the messages `git revert` and GitHub's revert button write."""
    return message.lstrip().startswith('Revert "') or _REVERTS.search(message) is not None


def classify(
    before: str | None, after: str | None, *, is_revert: bool, served_before: set[str]
) -> HistoryKind:
    """The kind of a change from version `before` to `after`.

    Going back to a version that served earlier counts as a rollback even when
    made by editing the manifest rather than by `git revert`.
    """
    if after is None:
        return HistoryKind.REMOVAL
    if before == after:
        return HistoryKind.UPDATE
    if is_revert or after in served_before:
        return HistoryKind.ROLLBACK
    return HistoryKind.DEPLOYMENT if before is None else HistoryKind.PROMOTION


def read_history(
    repo: GitRepo, model: str, *, environment: str | None = None, branch: str = "main"
) -> list[HistoryEntry]:
    """Every change to `model`'s manifests reachable from `branch`, newest first."""
    env = environment or "*"
    patterns = [f"{MANIFEST_FOLDER}/{env}/{model}{suffix}" for suffix in YAML_SUFFIXES]
    commits = repo.log(repo.resolve(branch), patterns, glob=True)
    entries: list[HistoryEntry] = []
    served: dict[str, set[str]] = {}
    for record in reversed(commits):
        for path in record.paths:
            entry = _entry(repo, record, path, served.setdefault(path, set()))
            if entry is not None:
                entries.append(entry)
    return [_with_state(entry, entries[index + 1 :]) for index, entry in enumerate(entries)][::-1]


def _with_state(entry: HistoryEntry, later: Sequence[HistoryEntry]) -> HistoryEntry:
    if entry.kind not in (HistoryKind.PROMOTION, HistoryKind.DEPLOYMENT):
        return entry
    reverted = any(entry.is_reverted_by(other) for other in later)
    return entry.model_copy(update={"state": merged_state(reverted)})


def _entry(repo: GitRepo, record: CommitRecord, path: str, served: set[str]) -> HistoryEntry | None:
    after = _manifest_data(repo.read_text(record.sha, path))
    parent = record.parents[0] if record.parents else None
    before = _manifest_data(repo.read_text(parent, path)) if parent else None
    to_version, from_version = _version(after), _version(before)
    if after is None and before is None:
        return None
    revert = is_revert_message(record.message)
    kind = classify(from_version, to_version, is_revert=revert, served_before=served)
    served.update(v for v in (from_version, to_version) if v is not None)
    number = pull_request_of_message(record.message)
    if number is None and not revert and after is not None:
        number = _pull_request(after)
    reverted = _REVERTS.search(record.message)
    return HistoryEntry(
        commit=record.sha,
        committed_at=record.committed_at,
        author=record.author_name,
        author_email=record.author_email,
        environment=path.split("/")[1],
        kind=kind,
        from_version=from_version,
        to_version=to_version,
        pull_request=number,
        is_revert=revert,
        reverts=reverted.group(1) if reverted else None,
        reverts_pull_request=reverted_pull_request(record.message) if revert else None,
        metrics=_metrics(after),
        subject=record.subject,
        approved_by=approved_by(record.message),
        record=_decision(repo, record, path, to_version) if kind in _DECIDED else None,
    )


_DECIDED = frozenset({HistoryKind.DEPLOYMENT, HistoryKind.PROMOTION})
_APPROVED_BY = re.compile(r"^Approved-by:\s*(\S+)\s*$", re.MULTILINE)


def approved_by(message: str) -> tuple[str, ...]:
    """The logins of a merge commit's `Approved-by:` trailers."""
    return tuple(_APPROVED_BY.findall(message))


def _decision(
    repo: GitRepo, commit: CommitRecord, manifest: str, version: str | None
) -> DecisionRecord | None:
    """The record beside `manifest` at `commit`, when it is this version's; older commits
    have none, and a record that does not parse is history's to show, not to refuse."""
    environment, name = manifest.split("/")[1:3]
    model = name.rsplit(".", 1)[0]
    text = repo.read_text(commit.sha, record_path(model, environment))
    if text is None:
        return None
    try:
        found = DecisionRecord.model_validate_json(text)
    except ValidationError:
        return None
    return found if found.version == version else None


def _manifest_data(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = parse_yaml(text, "<manifest>").data
    except YamlSyntaxError:
        return {}
    return data if isinstance(data, dict) else {}


def _version(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    value = data.get("version")
    return None if value is None else str(value)


def _pull_request(data: dict[str, Any]) -> int | None:
    evaluation = data.get("evaluation")
    number = evaluation.get("pull_request") if isinstance(evaluation, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _metrics(data: dict[str, Any] | None) -> dict[str, float]:
    metrics = (data or {}).get("metrics")
    if not isinstance(metrics, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def key_metrics(metrics: dict[str, float], names: Sequence[str] = (), limit: int = 3) -> str:
    """`f1=0.884 accuracy=0.912` for a table: the named metrics first, at most `limit`."""
    ordered = [n for n in names if n in metrics] + sorted(k for k in metrics if k not in names)
    return " ".join(f"{k}={metrics[k]:.4g}" for k in ordered[:limit])
