"""One model's page: its path, its open promotions with each readiness rule, its history
from git and its newest evaluation.

Readiness is the gate's own: the facts are gathered as the gate gathers them
(`bot.workflows.gate.read_facts`: reviews, checks, team membership, a few REST requests per
open pull request) and `bot.domain.readiness.merge_readiness` decides. Manifests, policy and
the files a pull request changes come from the mirror instead of the REST API.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.board.reader import BoardRead, BoardSources
from bot.board.records import refused_versions, rollback_reason
from bot.board.views import (
    Evaluation,
    HistoryItem,
    ModelPage,
    OpenPromotion,
    Proposal,
    RuleLine,
)
from bot.domain.layout import manifest_path
from bot.domain.promotion import State, describe
from bot.domain.readiness import merge_readiness
from bot.domain.record import DecisionRecord, record_path
from bot.domain.resolution import PolicyResolutionError, resolve_policy
from bot.domain.stages import StageView
from bot.errors import PromobotError, UserInputError
from bot.forge.base import PullRequestInfo
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.workflows.gate import PromotionInputs, read_facts
from bot.workflows.history import HistoryEntry
from bot.workflows.status import model_status


def read_model_page(
    sources: BoardSources, read: BoardRead, model: str, now: dt.datetime
) -> ModelPage | None:
    """The page of `model`; None when the board has no such model."""
    row = read.board.row(model)
    if row is None:
        return None
    problems: list[str] = []
    promotions = tuple(
        _open_promotion(sources, read, pull, proposal, (model, environment), now)
        for (name, environment), (pull, proposal) in sorted(read.pulls.items())
        if name == model
    )
    board = read.board
    return ModelPage(
        model=model,
        repository=board.repository,
        web_url=board.web_url,
        read_at=board.read_at,
        environments=board.environments,
        row=row,
        stages=tuple(_stages(sources, read, model, now, problems)),
        promotions=promotions,
        history=tuple(_history(sources, read, model)),
        evaluation=_evaluation(sources, read, model),
        problems=tuple(problems),
    )


def _stages(
    sources: BoardSources, read: BoardRead, model: str, now: dt.datetime, problems: list[str]
) -> list[StageView]:
    manifests = read.snapshot.manifests
    if read.snapshot.head is None or not any(name == model for name, _ in manifests):
        return []
    try:
        with sources.mirror.reading() as repo:
            return model_status(repo, model, now, branch=read.snapshot.branch)
    except PromobotError as error:
        problems.append(f"path: {str(error).splitlines()[0]}")
        return []


# ----- open promotions -------------------------------------------------------------------


def _open_promotion(
    sources: BoardSources,
    read: BoardRead,
    pull: PullRequestInfo,
    proposal: Proposal,
    where: tuple[str, str],
    now: dt.datetime,
) -> OpenPromotion:
    model, environment = where
    record_url = sources.links.blob(pull.head_sha, record_path(model, environment))
    try:
        if sources.services is None:
            raise UserInputError("GitHub is not configured: readiness cannot be read")
        inputs = _inputs(sources, read, pull, model, environment)
        facts = read_facts(sources.services, inputs, merge_requested=False)
        readiness = merge_readiness(facts, inputs.policy, now)
    except PromobotError as error:
        return OpenPromotion(
            environment=environment,
            proposal=proposal,
            state=None,
            state_description=None,
            ready=False,
            rules=(),
            next_evaluation_at=None,
            record_url=record_url,
            problem=str(error).splitlines()[0],
        )
    return OpenPromotion(
        environment=environment,
        proposal=proposal,
        state=readiness.state.value,
        state_description=describe(readiness.state),
        ready=readiness.ready,
        rules=tuple(
            RuleLine(name=r.name, passed=r.passed, detail=r.detail) for r in readiness.rules
        ),
        next_evaluation_at=readiness.next_evaluation_at,
        record_url=record_url,
        problem=None,
    )


def _inputs(
    sources: BoardSources, read: BoardRead, pull: PullRequestInfo, model: str, environment: str
) -> PromotionInputs:
    """What the gate reads over REST, read from the mirror instead."""
    if not sources.mirror.has_commit(pull.head_sha):
        raise UserInputError(
            f"the board's git mirror has not fetched {pull.head_sha[:7]} yet; it will on its "
            "next read"
        )
    path = manifest_path(model, environment)
    with sources.mirror.reading() as repo:
        try:
            head = load_manifest_text(repo.read_text(pull.head_sha, path) or "", path)
        except InvalidFile as error:
            raise UserInputError(f"{path} on {pull.head_ref} is invalid: {error}") from error
    try:
        policy = resolve_policy(read.snapshot.policies, model, environment)
    except PolicyResolutionError as error:
        raise UserInputError(str(error)) from error
    files = sources.mirror.changed_paths(read.snapshot.branch, pull.head_sha)
    return PromotionInputs(
        pr=pull.model_copy(update={"files": files}),
        model=model,
        environment=environment,
        head=head,
        base=read.snapshot.manifests.get((model, environment)),
        policy=policy,
    )


# ----- history ---------------------------------------------------------------------------


def _history(sources: BoardSources, read: BoardRead, model: str) -> list[HistoryItem]:
    links = sources.links
    items = [_item(sources, entry) for entry in read.snapshot.histories.get(model, [])]
    numbers = {pull.head_sha: pull.number for pull, _ in read.pulls.values()}
    items += refused_versions(sources.mirror, sources.records, model, numbers, links)
    return sorted(items, key=lambda item: item.when, reverse=True)


def _item(sources: BoardSources, entry: HistoryEntry) -> HistoryItem:
    links = sources.links
    kind = entry.kind
    reason = rollback_reason(sources.mirror.message(entry.commit)) if entry.is_revert else None
    return HistoryItem(
        when=entry.committed_at.astimezone(dt.UTC),
        environment=entry.environment,
        kind=kind,
        from_version=entry.from_version,
        to_version=entry.to_version,
        pull_request=entry.pull_request,
        pull_request_url=links.pull(entry.pull_request),
        commit=entry.commit,
        commit_url=links.commit(entry.commit),
        author=entry.author,
        approved_by=entry.approved_by,
        reason=reason,
        reverts_pull_request=entry.reverts_pull_request,
        rolled_back=entry.state is State.ROLLED_BACK,
    )


# ----- the newest evaluation -------------------------------------------------------------


def _evaluation(sources: BoardSources, read: BoardRead, model: str) -> Evaluation | None:
    """The newest record among the open promotions' heads and the merged promotions."""
    found: list[tuple[DecisionRecord, str, int | None]] = []
    for (name, environment), (pull, _) in read.pulls.items():
        if name == model:
            record = sources.records.record_at(pull.head_sha, model, environment)
            if record is not None:
                found.append((record, pull.head_sha, pull.number))
    for entry in read.snapshot.histories.get(model, []):
        if entry.record is not None:
            found.append((entry.record, entry.commit, entry.pull_request))
    if not found:
        return None
    record, commit, number = max(found, key=lambda item: item[0].decided_at)
    comparison = record.comparison
    return Evaluation(
        environment=record.environment,
        version=record.version,
        champion_version=record.champion_version,
        decided_at=record.decided_at,
        verdict=record.verdict.value,
        task=comparison.task,
        rows=comparison.n,
        metrics=tuple(comparison.metrics.values()),
        notes=comparison.notes,
        data=shown_data_path(comparison.provenance.data_path, sources.data_root),
        curves=comparison.curves,
        commit=commit,
        record_url=sources.links.blob(commit, record_path(model, record.environment)),
        pull_request=number,
    )


def shown_data_path(data_path: str | None, data_root: Path | None) -> str | None:
    """The evaluation data as a path inside the data root; None for anything outside it
    (a path on the bot's machine is not the board's to show)."""
    if data_path is None:
        return None
    path = Path(data_path)
    if not path.is_absolute():
        return None if ".." in path.parts else path.as_posix()
    if data_root is None:
        return None
    try:
        return path.resolve().relative_to(data_root.resolve()).as_posix()
    except ValueError:
        return None
