"""`promobot status MODEL`: each stage of a model's path, read from a clone.

What serves in a stage is what its manifest on the branch says; since when is the commit
that put that version there (the promotion's squash, or a revert). A model whose policy
has no `stages` shows each of its environments on its own.
"""

from __future__ import annotations

import datetime as dt

from bot.domain.layout import MANIFEST_FOLDER, POLICY_FOLDER, is_yaml, manifest_path
from bot.domain.policy import Stage
from bot.domain.resolution import PolicyResolutionError, resolve_policy
from bot.domain.stages import Serving, StageView, path_views
from bot.errors import UserInputError
from bot.formats.loading import InvalidFile, load_manifest_text, load_policy_texts
from bot.gitrepo import GitRepo
from bot.workflows.history import HistoryKind, read_history

VALIDATE_HINT = "`promobot validate policies model-manifests` shows every problem"
_SERVING_KINDS = frozenset({HistoryKind.DEPLOYMENT, HistoryKind.PROMOTION, HistoryKind.ROLLBACK})


def model_status(
    repo: GitRepo, model: str, now: dt.datetime, *, branch: str = "main"
) -> list[StageView]:
    """Each stage of `model`'s path (or each environment it has a manifest in)."""
    head = repo.resolve(branch)
    environments = sorted(
        path.split("/")[1]
        for path in repo.list_files(head, MANIFEST_FOLDER)
        if _is_manifest_of(path, model)
    )
    stages = _stages(repo, head, model, environments)
    if not stages:
        raise UserInputError(
            f"{model!r} has no manifest under {MANIFEST_FOLDER}/ on {branch} and no policy "
            "path (`stages`) names it",
            hint="check the model's name (as in its manifests) and --branch",
        )
    serving: dict[str, Serving] = {}
    history = read_history(repo, model, branch=branch)
    for stage in stages:
        path = manifest_path(model, stage.environment)
        text = repo.read_text(head, path)
        if text is None:
            continue
        try:
            version = load_manifest_text(text, path).version
        except InvalidFile as error:
            raise UserInputError(str(error), hint=VALIDATE_HINT) from error
        since = next(
            (
                entry
                for entry in history
                if entry.environment == stage.environment
                and entry.to_version == version
                and entry.kind in _SERVING_KINDS
            ),
            None,
        )
        serving[stage.environment] = Serving(
            version=version,
            since=None if since is None else since.committed_at.astimezone(dt.UTC),
            pull_request=None if since is None else since.pull_request,
        )
    return path_views(stages, serving, {}, now)


def _is_manifest_of(path: str, model: str) -> bool:
    parts = path.split("/")
    return len(parts) == 3 and is_yaml(parts[2]) and parts[2].rsplit(".", 1)[0] == model


def _stages(repo: GitRepo, head: str, model: str, environments: list[str]) -> tuple[Stage, ...]:
    """The policy's path for `model`, or one stage per environment it is in."""
    texts = {
        path: repo.read_text(head, path) or ""
        for path in repo.list_files(head, POLICY_FOLDER)
        if is_yaml(path)
    }
    try:
        policies = load_policy_texts(texts)
    except InvalidFile as error:
        raise UserInputError(str(error), hint=VALIDATE_HINT) from error
    for environment in environments:
        try:
            stages = resolve_policy(policies, model, environment).stages
        except PolicyResolutionError:
            continue
        if stages:
            return stages
    return tuple(Stage(environment=environment) for environment in environments)
