"""Each stage of a model's path as the forge shows it: what serves, since when, what waits.

Read by the status comment of a promotion pull request. `promobot status` reads the
same from a clone; `bot.domain.stages.path_views` decides what each stage waits for.
"""

from __future__ import annotations

import datetime as dt

from bot.domain.layout import promotion_branch
from bot.domain.manifest import ModelManifest
from bot.domain.stages import Serving, StageView, path_views
from bot.errors import UserInputError
from bot.workflows.history import pull_request_of_message
from bot.workflows.inputs import read_manifest, read_policy
from bot.workflows.services import Services


def served_since(
    services: Services, manifest: ModelManifest
) -> tuple[dt.datetime | None, int | None]:
    """When the manifest's version started to serve, and the pull request that put it there:
    the last commit of the default branch that changed the manifest (a promotion's squash
    `Title (#N)`, or a revert)."""
    commits = services.forge.file_history(manifest.path(), 1)
    if not commits:
        return None, None
    last = commits[0]
    return last.committed_at, pull_request_of_message(last.message)


def stage_views(
    services: Services, model: str, environment: str, now: dt.datetime
) -> list[StageView]:
    """Each stage of the model's path: what serves, since when, and what it waits for."""
    stages = read_policy(services.forge, model, environment).stages
    if not stages:
        return []
    serving: dict[str, Serving] = {}
    for stage in stages:
        manifest = read_manifest(services.forge, model, stage.environment)
        if manifest is not None:
            since, number = served_since(services, manifest)
            serving[stage.environment] = Serving(
                version=manifest.version, since=since, pull_request=number
            )
    branches = {promotion_branch(model, stage.environment): stage for stage in stages}
    proposed: dict[str, tuple[int, str]] = {}
    for pr in services.forge.list_promotion_pull_requests():
        on = branches.get(pr.head_ref)
        if on is None:
            continue
        try:
            head = read_manifest(services.forge, model, on.environment, pr.head_sha)
        except UserInputError:
            head = None
        proposed[on.environment] = (pr.number, "?" if head is None else head.version)
    return path_views(stages, serving, proposed, now)
