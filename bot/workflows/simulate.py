"""Policy simulation: what a change to `policies/` would have decided, before it merges.

The decision records are the evidence: each kept the comparison a decision was made on,
so replaying it under the changed policies (`bot.domain.simulation`, the same `decide()`
the bot runs) says exactly which verdicts would flip. `promobot simulate` reads the
records from a clone; the service reads them through the forge for a pull request that
changes `policies/`, and answers with one comment (edited in place) and a neutral check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import PurePosixPath

from bot.domain.layout import MANIFEST_FOLDER, POLICY_FOLDER, is_yaml, promotion_of
from bot.domain.record import RECORD_SUFFIX, DecisionRecord, parse_record, record_path
from bot.domain.resolution import PolicyResolutionError, SourcedPolicy
from bot.domain.simulation import Simulation, governed_by, simulate_change
from bot.errors import ForgeError, UserInputError
from bot.forge.base import CheckConclusion, CommitState, PullRequestInfo
from bot.formats.loading import InvalidFile, load_policy_text, load_policy_texts
from bot.gitrepo import GitRepo
from bot.report.render import render_template
from bot.workflows.inputs import read_policies
from bot.workflows.services import Services

log = logging.getLogger(__name__)

DEFAULT_LAST = 20
"""Decisions replayed when `--last` is not given."""
SIMULATION_MARKER = "<!-- promobot:simulation -->"
SIMULATION_CHECK = "promobot/simulation"


def records_in_git(repo: GitRepo) -> list[DecisionRecord]:
    """Every decision record that any branch (merged promotions, and proposals still on
    their `promobot/` branch) or tag of the clone ever held."""
    pattern = f"{MANIFEST_FOLDER}/*/*{RECORD_SUFFIX}"
    found = []
    for commit in repo.log(None, [pattern], glob=True):
        for path in commit.paths:
            if path.endswith(RECORD_SUFFIX):
                record = parse_record(_read(repo, commit.sha, path))
                if record is not None:
                    found.append(record)
    return found


def _read(repo: GitRepo, sha: str, path: str) -> str | None:
    try:
        return repo.read_text(sha, path)
    except UserInputError as error:  # a link or an oversized file where a record was
        log.warning("%s at %s: %s", path, sha[:7], error)
        return None


def records_on_forge(
    services: Services, governs: Callable[[str, str], bool], per_record: int
) -> list[DecisionRecord]:
    """The records of the models `governs` selects: the last `per_record` versions of each
    on the default branch (a reverted promotion's too: the history of the path keeps it),
    and those of the open promotion pull requests."""
    forge = services.forge
    found: list[DecisionRecord] = []
    for path in forge.list_files(MANIFEST_FOLDER):
        parts = path.split("/")
        if len(parts) != 3 or not is_yaml(parts[2]):
            continue
        model = parts[2].rsplit(".", 1)[0]
        if not governs(model, parts[1]):
            continue
        where = record_path(model, parts[1])
        for commit in forge.file_history(where, per_record):
            record = parse_record(forge.read_file(where, commit.sha))
            if record is not None:
                found.append(record)
    for pr in forge.list_promotion_pull_requests():
        promotion = promotion_of(pr.head_ref)
        if promotion is None or not governs(promotion.model, promotion.environment):
            continue
        where = record_path(promotion.model, promotion.environment)
        record = parse_record(forge.read_file(where, pr.head_sha))
        if record is not None:
            found.append(record)
    return found


def simulate_in_clone(
    repo: GitRepo, policy_text: str, shown: str, branch: str, last: int
) -> Simulation:
    """Replay the last `last` decisions recorded in the clone under `branch`'s policies with
    `policy_text` (the file `shown`) in place of the policy of the same name (or added)."""
    head = repo.resolve(branch)
    texts = {
        p: repo.read_text(head, p) or "" for p in repo.list_files(head, POLICY_FOLDER) if is_yaml(p)
    }
    old = _load(texts)
    try:
        name = load_policy_text(policy_text, shown).name
    except InvalidFile as error:
        raise UserInputError(str(error), hint=f"run `promobot validate {shown}`") from error
    same = next((p.path for p in old if p.policy.name == name), None)
    path = same or f"{POLICY_FOLDER}/{PurePosixPath(shown).name}"
    new = _load({**texts, path: policy_text})
    return _simulate(records_in_git(repo), old, new, [path], last)


def _load(texts: dict[str, str]) -> list[SourcedPolicy]:
    try:
        return load_policy_texts(texts)
    except InvalidFile as error:
        raise UserInputError(
            f"{POLICY_FOLDER}/ has errors:\n{error}",
            hint=f"run `promobot validate {POLICY_FOLDER}`",
        ) from error


def _simulate(
    records: list[DecisionRecord],
    old: list[SourcedPolicy],
    new: list[SourcedPolicy],
    changed: list[str],
    last: int,
) -> Simulation:
    try:
        return simulate_change(records, old, new, changed, last)
    except PolicyResolutionError as error:
        raise UserInputError(
            f"the changed policies do not resolve: {error}",
            hint="make one policy more specific, or set the section in one file only",
        ) from error


def simulate_pull_request(
    services: Services, pr: PullRequestInfo, last: int = DEFAULT_LAST
) -> Simulation | None:
    """For a pull request that changes `policies/`: replay the decisions its change could
    flip, then say so in one comment (edited in place) and a neutral check. None when the
    pull request changes no policy."""
    changed = [p for p in pr.files or () if p.startswith(f"{POLICY_FOLDER}/") and is_yaml(p)]
    if not changed:
        _withdraw(services, pr)
        return None
    try:
        old = read_policies(services.forge)
        new = read_policies(services.forge, pr.head_sha)
        records = records_on_forge(services, governed_by(changed, old, new), last)
        simulation = _simulate(records, old, new, changed, last)
    except UserInputError as error:
        _report(services, pr, None, str(error))
        return None
    _report(services, pr, simulation, "")
    return simulation


def _withdraw(services: Services, pr: PullRequestInfo) -> None:
    """A pull request that changed policies and no longer does: its table would mislead."""
    mine = services.forge.bot_login.lower()
    said = [
        c
        for c in services.forge.list_comments(pr.number)
        if c.user.lower() == mine and SIMULATION_MARKER in c.body
    ]
    if said:
        services.forge.upsert_comment(
            pr.number,
            SIMULATION_MARKER,
            f"{SIMULATION_MARKER}\n**promobot**: this pull request no longer changes "
            f"`{POLICY_FOLDER}/` (head `{pr.head_sha[:7]}`): nothing to replay.\n",
        )


def _report(
    services: Services, pr: PullRequestInfo, simulation: Simulation | None, problem: str
) -> None:
    body = render_template(
        "simulation_comment.md.j2",
        services.templates_root,
        simulation=simulation,
        problem=problem,
        head_sha=pr.head_sha,
    )
    services.forge.upsert_comment(pr.number, SIMULATION_MARKER, f"{SIMULATION_MARKER}\n{body}")
    title = problem.splitlines()[0] if simulation is None else simulation.summary()
    try:
        services.forge.set_check_run(
            pr.head_sha,
            SIMULATION_CHECK,
            conclusion=CheckConclusion.NEUTRAL,
            title=title[:200],
            summary=body,
        )
    except ForgeError as error:
        # A token cannot create check runs: a success status says the same and blocks nothing.
        log.info("simulation check run refused (%s); a commit status instead", error)
        services.forge.set_commit_status(
            pr.head_sha, CommitState.SUCCESS, title[:140], context=SIMULATION_CHECK
        )
