"""Decision records and commit messages from the mirror: verdicts, refusals, rollback reasons.

A commit never changes, so what was read at a commit is kept (bounded) and never read again.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TypeVar

from bot.board.links import Links
from bot.board.mirror import GitMirror
from bot.board.views import HistoryItem
from bot.domain.layout import promotion_of
from bot.domain.record import DecisionRecord, parse_record, record_path
from bot.domain.verdict import Outcome
from bot.errors import UserInputError
from bot.forge.markers import BRANCH_TRAILER, trailer
from bot.workflows.history import HistoryKind

K = TypeVar("K")
V = TypeVar("V")
MAX_KEPT = 4096
PULL_HEAD = re.compile(r"^refs/pull/(\d+)/head$")
_TRAILER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: \S")
_REVERTS = re.compile(r"^This reverts commit [0-9a-f]{7,40}\b.*$")


class RecordReader:
    """Reads decision records and messages at commits of the mirror, each once."""

    def __init__(self, mirror: GitMirror) -> None:
        self.mirror = mirror
        self._records: OrderedDict[tuple[str, str], DecisionRecord | None] = OrderedDict()
        self._branches: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()  # pages are read in several threads at once

    def record_at(self, sha: str, model: str, environment: str) -> DecisionRecord | None:
        """The record of (model, environment) at commit `sha`; None when absent or unreadable
        (history shows what it can; a record that does not parse is not the board's to refuse)."""
        key = (sha, record_path(model, environment))
        with self._lock:
            if key in self._records:
                self._records.move_to_end(key)
                return self._records[key]
        if not self.mirror.has_commit(sha):
            return None  # not fetched yet: asked again on the next read
        record = self._read(sha, key[1])
        with self._lock:
            self._records[key] = record
            _bound(self._records)
        return record

    def branch_of(self, sha: str) -> str | None:
        """The promotion branch a bot commit says it belongs to (its trailer)."""
        with self._lock:
            if sha in self._branches:
                return self._branches[sha]
        try:
            branch = trailer(self.mirror.message(sha), BRANCH_TRAILER)
        except ValueError:
            branch = None
        with self._lock:
            self._branches[sha] = branch
            _bound(self._branches)
        return branch

    def _read(self, sha: str, path: str) -> DecisionRecord | None:
        with self.mirror.reading() as repo:
            try:
                text = repo.read_text(sha, path)
            except UserInputError:
                return None
        return parse_record(text)


def _bound(kept: OrderedDict[K, V]) -> None:
    while len(kept) > MAX_KEPT:
        kept.popitem(last=False)


def refusal_heads(
    mirror: GitMirror, reader: RecordReader, model: str
) -> list[tuple[str, str, int | None]]:
    """(environment, commit, pull request) of every head a promotion branch of `model` had
    as far as the mirror knows: branches, their earlier heads, and pull request refs.

    An earlier head of a branch that only one pull request ever used belongs to that pull
    request (a newer challenger rebuilds the branch under the same pull request); with
    several, which one held it is not known and the head has no number.
    """
    pulls: dict[str, tuple[str, int]] = {}
    numbers_of: dict[str, set[int]] = {}
    for ref, sha in mirror.refs("refs/pull/").items():
        matched = PULL_HEAD.match(ref)
        branch = reader.branch_of(sha) if matched else None
        target = promotion_of(branch) if branch else None
        if matched and branch and target is not None and target.model == model:
            pulls[sha] = (target.environment, int(matched.group(1)))
            numbers_of.setdefault(branch, set()).add(int(matched.group(1)))
    found: dict[str, tuple[str, int | None]] = {}
    for ref, sha in mirror.refs("refs/heads/promobot/").items():
        branch = ref.removeprefix("refs/heads/")
        target = promotion_of(branch)
        if target is None or target.model != model:
            continue
        only = numbers_of.get(branch, set())
        single = next(iter(only)) if len(only) == 1 else None
        for head in [sha, *mirror.earlier_heads(ref)]:
            found.setdefault(head, (target.environment, single))
    found.update(pulls)
    return [(env, sha, number) for sha, (env, number) in found.items()]


def refused_versions(
    mirror: GitMirror,
    reader: RecordReader,
    model: str,
    numbers: Mapping[str, int],
    links: Links,
) -> list[HistoryItem]:
    """Versions a decision refused, newest decision per (environment, version).

    `numbers` maps the head of each open promotion pull request to its number.
    """
    newest: dict[tuple[str, str], HistoryItem] = {}
    for environment, sha, number in refusal_heads(mirror, reader, model):
        record = reader.record_at(sha, model, environment)
        if record is None or record.verdict is not Outcome.REJECT:
            continue
        pull = number if number is not None else numbers.get(sha)
        item = HistoryItem(
            when=record.decided_at,
            environment=environment,
            kind=HistoryKind.REJECTED,
            from_version=record.champion_version,
            to_version=record.version,
            pull_request=pull,
            pull_request_url=links.pull(pull),
            commit=sha,
            commit_url=links.commit(sha),
            author=None,
            approved_by=(),
            reason=failed_rules(record),
            rolled_back=False,
        )
        key = (environment, record.version)
        if key not in newest or newest[key].when < item.when:
            newest[key] = item
    return list(newest.values())


def failed_rules(record: DecisionRecord) -> str:
    """`f1: ...; accuracy: ...` from the rules the record says failed."""
    failed = [f"{rule.name}: {rule.detail}" for rule in record.rules if not rule.passed]
    return "; ".join(failed) or "refused"


def rollback_reason(message: str) -> str | None:
    """What a revert's message says beyond `Revert "..."`, `This reverts commit ...` and its
    trailers; None when it says nothing more."""
    lines = message.strip().splitlines()[1:]
    kept = [
        line.strip()
        for line in lines
        if line.strip() and not _REVERTS.match(line.strip()) and not _TRAILER.match(line)
    ]
    return " ".join(kept) or None
