"""MLflow does not redeliver failed webhooks: propose every version that has no decision yet."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from bot.domain.layout import MANIFEST_FOLDER, manifest_path
from bot.errors import PromobotError
from bot.store.base import DecisionLog
from bot.workflows.inputs import read_manifest
from bot.workflows.propose import ProposeResult, propose
from bot.workflows.services import Services
from bot.workflows.stages import entry_environment, policies_or_none

log = logging.getLogger(__name__)


def _newer(version: str, than: str | None) -> bool:
    if than is None:
        return True
    if version.isdigit() and than.isdigit():
        return int(version) > int(than)
    return version != than


def propose_missed_versions(
    services: Services,
    decisions: DecisionLog | None,
    environments: Sequence[str],
    now: dt.datetime,
    registry: str = "mlflow",
) -> list[ProposeResult]:
    """Propose the newest version of every model when it is newer than what serves and undecided.

    Only models that already have a manifest in an environment are followed, so
    an unrelated model in a shared registry is never proposed by accident.
    """
    if decisions is None:
        return []
    # One listing of model-manifests/ (a conditional request) instead of one read per model
    # and environment: most models of a shared registry have no manifest here.
    held = set(services.forge.list_files(MANIFEST_FOLDER))
    policies = policies_or_none(services)
    results = []
    for model in services.registry.list_models():
        # A version meant for an environment on a policy's path enters its first stage.
        entries = dict.fromkeys(entry_environment(policies, model, e) for e in environments)
        for environment in entries:
            if manifest_path(model, environment) not in held:
                continue
            try:
                champion = read_manifest(services.forge, model, environment)
            except PromobotError as exc:
                log.warning("reconcile %s in %s: %s", model, environment, exc)
                continue
            if champion is None:
                continue
            newer = [
                v.version
                for v in services.registry.list_versions(model)
                if _newer(v.version, champion.version)
            ]
            # Only the newest version matters: older undecided ones are superseded by it.
            if newer and decisions.get(registry, model, newer[-1], environment) is None:
                results.append(
                    propose(services, decisions, model, newer[-1], environment, now, registry)
                )
    return results
