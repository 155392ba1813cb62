"""Reads the board: git (the mirror) for what `main` says, the targets for what serves, the
forge for the open promotion pull requests (one listing, the only REST request of a view).

Each source that cannot be read becomes a line in `problems`; the rest of the board shows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bot.board.columns import environment_order
from bot.board.links import Links, without_credentials
from bot.board.mirror import GitMirror
from bot.board.records import RecordReader
from bot.board.views import Board, Cell, CellStatus, Health, ModelRow, Proposal
from bot.domain.layout import MANIFEST_FOLDER, POLICY_FOLDER, is_yaml, manifest_path, promotion_of
from bot.domain.manifest import ModelManifest
from bot.domain.resolution import PolicyResolutionError, SourcedPolicy, resolve_policy
from bot.errors import PromobotError
from bot.forge.base import Forge, PullRequestInfo
from bot.formats.loading import InvalidFile, load_manifest_text, load_policy_texts
from bot.gitrepo import GitRepo
from bot.targets.base import ServingState, Target
from bot.workflows.apply import TargetProvider, error_text
from bot.workflows.diff import DriftStatus, drift_status
from bot.workflows.history import HistoryEntry, HistoryKind, read_history
from bot.workflows.services import Services

log = logging.getLogger(__name__)

TARGET_READERS = 8
Pulls = dict[tuple[str, str], tuple[PullRequestInfo, Proposal]]
"""Open promotion pull requests by (model, environment), as listed and as shown."""
_SERVING_KINDS = frozenset({HistoryKind.DEPLOYMENT, HistoryKind.PROMOTION, HistoryKind.ROLLBACK})


@dataclass
class BoardSources:
    """Where the board reads from; `bot.board.wiring` builds it."""

    repository: str
    mirror: GitMirror
    targets: TargetProvider
    forge: Forge | None
    services: Services | None
    links: Links
    data_root: Path | None = None
    records: RecordReader = field(init=False)
    histories: dict[tuple[str, str], list[HistoryEntry]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.records = RecordReader(self.mirror)

    def history(self, repo: GitRepo, model: str, head: str, branch: str) -> list[HistoryEntry]:
        """The model's history on `branch` at `head`, read once per head."""
        key = (model, head)
        if key not in self.histories:
            if len(self.histories) > 4096:
                self.histories.clear()
            self.histories[key] = read_history(repo, model, branch=branch)
        return self.histories[key]


@dataclass
class Snapshot:
    """What one read of git gave: the manifests and policies of `main`, and the history."""

    branch: str
    head: str | None
    manifests: dict[tuple[str, str], ModelManifest]
    policies: list[SourcedPolicy]
    histories: dict[str, list[HistoryEntry]]
    problems: list[str]


def _git_problem(shown: str, error: PromobotError) -> str:
    """What the page says of a git failure: fixed words. git's own message names local
    paths (the mirror, the checkout), so it goes to the log only."""
    log.warning("the board's git mirror: %s", without_credentials(str(error)))
    return f"git: {shown} (the service log has git's message)"


def read_git(sources: BoardSources) -> Snapshot:
    """Fetch the mirror, then read `main`'s manifests, policies and every model's history."""
    problems: list[str] = []
    try:
        sources.mirror.refresh()
    except PromobotError as error:
        problems.append(
            _git_problem("could not fetch the repository; what is shown may be old", error)
        )
    branch = sources.mirror.branch or "main"
    try:
        with sources.mirror.reading() as repo:
            head = repo.resolve(branch)
            manifests = _manifests(repo, head, problems)
            policies = _policies(repo, head, problems)
            models = sorted({model for model, _ in manifests})
            histories = {m: sources.history(repo, m, head, branch) for m in models}
    except PromobotError as error:
        problems.append(_git_problem(f"could not read `{branch}` from the mirror", error))
        return Snapshot(branch, None, {}, [], {}, problems)
    return Snapshot(branch, head, manifests, policies, histories, problems)


def _manifests(
    repo: GitRepo, head: str, problems: list[str]
) -> dict[tuple[str, str], ModelManifest]:
    found: dict[tuple[str, str], ModelManifest] = {}
    for path in repo.list_files(head, MANIFEST_FOLDER):
        if not is_yaml(path):
            continue
        try:
            manifest = load_manifest_text(repo.read_text(head, path) or "", path)
        except (InvalidFile, PromobotError) as error:
            problems.append(f"{path}: {str(error).splitlines()[0]}")
            continue
        found[(manifest.model, manifest.environment)] = manifest
    return found


def _policies(repo: GitRepo, head: str, problems: list[str]) -> list[SourcedPolicy]:
    texts = {
        path: repo.read_text(head, path) or ""
        for path in repo.list_files(head, POLICY_FOLDER)
        if is_yaml(path)
    }
    try:
        return load_policy_texts(texts)
    except InvalidFile as error:
        problems.append(f"{POLICY_FOLDER}/: {str(error).splitlines()[0]}")
        return []


def stage_paths(
    policies: list[SourcedPolicy], pairs: Iterable[tuple[str, str]]
) -> list[tuple[str, ...]]:
    """The promotion path of each (model, environment) whose policy has one."""
    paths: list[tuple[str, ...]] = []
    for model, environment in sorted(pairs):
        try:
            stages = resolve_policy(policies, model, environment).stages
        except PolicyResolutionError:
            continue
        path = tuple(stage.environment for stage in stages)
        if path and path not in paths:
            paths.append(path)
    return paths


def read_proposals(sources: BoardSources, problems: list[str]) -> Pulls:
    """The open promotion pull requests by (model, environment), each with its verdict."""
    if sources.forge is None:
        return {}
    try:
        pulls = sources.forge.list_promotion_pull_requests()
    except PromobotError as error:
        problems.append(f"GitHub: {error}")
        return {}
    found: Pulls = {}
    for pull in pulls:
        target = promotion_of(pull.head_ref)
        if target is None:
            continue
        record = sources.records.record_at(pull.head_sha, target.model, target.environment)
        proposal = Proposal(
            number=pull.number,
            url=pull.url,
            title=pull.title,
            version=record.version if record else _head_version(sources, pull, *target),
            verdict=record.verdict.value if record else None,
            draft=pull.draft,
            head_sha=pull.head_sha,
        )
        found[(target.model, target.environment)] = (pull, proposal)
    return found


def _head_version(
    sources: BoardSources, pull: PullRequestInfo, model: str, environment: str
) -> str | None:
    path = manifest_path(model, environment)
    if not sources.mirror.has_commit(pull.head_sha):
        return None
    with sources.mirror.reading() as repo:
        try:
            return load_manifest_text(repo.read_text(pull.head_sha, path) or "", path).version
        except (InvalidFile, PromobotError):
            return None


def read_states(
    sources: BoardSources, manifests: Mapping[tuple[str, str], ModelManifest]
) -> dict[tuple[str, str], tuple[ServingState | None, list[Health], str | None]]:
    """What each manifest's target serves, and its health; read side by side."""
    targets: dict[tuple[str, str], Target | str] = {}
    for key, manifest in manifests.items():
        try:
            targets[key] = sources.targets(manifest.deployment)
        except PromobotError as error:
            targets[key] = str(error)

    def one(key: tuple[str, str]) -> tuple[ServingState | None, list[Health], str | None]:
        target, manifest = targets[key], manifests[key]
        if isinstance(target, str):
            return None, [], target
        try:
            state = target.state(manifest.model, manifest.environment, manifest.deployment)
            samples = target.health(manifest.model, manifest.environment, manifest.deployment)
        except Exception as error:  # one unreachable target must not hide the others
            return None, [], without_credentials(f"cannot read what serves: {error_text(error)}")
        health = [
            Health(
                version=s.version,
                requests=s.requests,
                errors=s.errors,
                error_rate=s.error_rate,
                p99_latency_ms=s.p99_latency_ms,
            )
            for s in samples
        ]
        return state, health, None

    keys = sorted(manifests)
    with ThreadPoolExecutor(max_workers=TARGET_READERS, thread_name_prefix="board") as pool:
        return dict(zip(keys, pool.map(one, keys), strict=True))


@dataclass(frozen=True)
class BoardRead:
    """One read of every source: the board, and what the model pages read further from."""

    board: Board
    snapshot: Snapshot
    pulls: Pulls


def read_board(sources: BoardSources, now: dt.datetime) -> BoardRead:
    """The whole board as it is now."""
    snapshot = read_git(sources)
    problems = snapshot.problems
    proposals = read_proposals(sources, problems)
    states = read_states(sources, snapshot.manifests)
    pairs = set(snapshot.manifests) | set(proposals)
    environments = environment_order(
        stage_paths(snapshot.policies, pairs), (environment for _, environment in pairs)
    )
    rows = []
    for model in sorted({model for model, _ in pairs}):
        cells = []
        for environment in environments:
            manifest = snapshot.manifests.get((model, environment))
            found = proposals.get((model, environment))
            proposal = found[1] if found else None
            if manifest is None:
                cells.append(_absent(environment, proposal))
                continue
            history = snapshot.histories.get(model, [])
            cells.append(_cell(manifest, states[(model, environment)], history, proposal))
        rows.append(ModelRow(model=model, cells=tuple(cells)))
    board = Board(
        repository=sources.repository,
        web_url=sources.links.web_url,
        branch=snapshot.branch,
        head=snapshot.head,
        read_at=now,
        environments=environments,
        rows=tuple(rows),
        problems=tuple(problems),
    )
    return BoardRead(board, snapshot, proposals)


def _absent(environment: str, proposal: Proposal | None) -> Cell:
    return Cell(
        environment=environment,
        wanted=None,
        serving={},
        status=CellStatus.NOT_DEPLOYED,
        detail="no manifest on the default branch",
        endpoint=None,
        target=None,
        since=None,
        since_pull_request=None,
        since_commit=None,
        health=(),
        proposal=proposal,
    )


def _cell(
    manifest: ModelManifest,
    read: tuple[ServingState | None, list[Health], str | None],
    history: list[HistoryEntry],
    proposal: Proposal | None,
) -> Cell:
    state, health, problem = read
    if state is None:
        status, detail, serving = CellStatus.UNKNOWN, problem or "unknown", {}
    else:
        drift, detail = drift_status(manifest.version, state)
        status = CellStatus.IN_SYNC if drift is DriftStatus.IN_SYNC else CellStatus.DRIFT
        serving = {v: share for v, share in state.traffic.items() if share > 0}
    since = next(
        (
            entry
            for entry in history
            if entry.environment == manifest.environment
            and entry.to_version == manifest.version
            and entry.kind in _SERVING_KINDS
        ),
        None,
    )
    return Cell(
        environment=manifest.environment,
        wanted=manifest.version,
        serving=serving,
        status=status,
        detail=detail,
        endpoint=manifest.deployment.endpoint,
        target=manifest.deployment.target.value,
        since=None if since is None else since.committed_at.astimezone(dt.UTC),
        since_pull_request=None if since is None else since.pull_request,
        since_commit=None if since is None else since.commit,
        health=tuple(h for h in health if h.version in serving) or tuple(health),
        proposal=proposal,
    )
