"""Gathering what a decision needs: manifests and policies from git, versions from the registry."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from bot.domain.claims import RepositoryView
from bot.domain.comparison import Comparison, Provenance, Task
from bot.domain.layout import POLICY_FOLDER, is_yaml, manifest_path
from bot.domain.manifest import (
    Deployment,
    Evaluation,
    ModelManifest,
    RegistryKind,
    Source,
)
from bot.domain.policy import Policy
from bot.domain.record import StageEvidence
from bot.domain.resolution import PolicyResolutionError, SourcedPolicy, resolve_policy
from bot.errors import UserInputError
from bot.evaluation import compare_metrics, evaluate_models
from bot.forge.base import Forge
from bot.formats.loading import InvalidFile, load_manifest_text, load_policy_texts
from bot.registry.base import ModelVersionInfo
from bot.workflows.services import Services


@dataclass(frozen=True)
class Proposal:
    """Everything one decision is made from and produces."""

    model: str
    environment: str
    champion: ModelManifest | None
    challenger: ModelVersionInfo
    champion_info: ModelVersionInfo | None
    policy: Policy
    comparison: Comparison
    stage: StageEvidence | None = None
    """How the challenger did in the previous stage of the policy's path, for a later stage."""


def read_policies(forge: Forge, ref: str | None = None) -> list[SourcedPolicy]:
    """Every policy file of `policies/` at `ref` (default branch), validated."""
    paths = [p for p in forge.list_files(POLICY_FOLDER, ref) if is_yaml(p)]
    texts = {p: forge.read_file(p, ref) or "" for p in paths}
    try:
        return load_policy_texts(texts)
    except InvalidFile as exc:
        raise UserInputError(
            f"{POLICY_FOLDER}/ has errors:\n{exc}", hint=f"run `promobot validate {POLICY_FOLDER}`"
        ) from exc


def read_policy(forge: Forge, model: str, environment: str, ref: str | None = None) -> Policy:
    """The resolved policy from `policies/` at `ref` (default branch)."""
    try:
        return resolve_policy(read_policies(forge, ref), model, environment)
    except PolicyResolutionError as exc:
        raise UserInputError(str(exc)) from exc


def repository_view(services: Services, model: str, environment: str) -> RepositoryView:
    """What the repository's default branch says about (model, environment): its policies,
    and whether it holds the manifest."""
    held = services.forge.read_file(manifest_path(model, environment)) is not None
    return RepositoryView(
        policies=read_policies(services.forge),
        manifests=frozenset({(model, environment)} if held else ()),
    )


def read_manifest(
    forge: Forge, model: str, environment: str, ref: str | None = None
) -> ModelManifest | None:
    """The manifest at `ref`, None when the model has none yet (a first deployment)."""
    path = manifest_path(model, environment)
    text = forge.read_file(path, ref)
    if text is None:
        return None
    try:
        return load_manifest_text(text, path)
    except InvalidFile as exc:
        raise UserInputError(
            f"{path} is invalid:\n{exc}", hint="fix it on the default branch"
        ) from exc


def compare(
    data_root: Path | None,
    tracking_uri: str | None,
    policy: Policy,
    champion: ModelVersionInfo | None,
    challenger: ModelVersionInfo,
) -> Comparison:
    """Paired re-scoring when the policy names a dataset that is here, else logged metrics."""
    dataset = policy.evaluation
    if dataset is not None and data_root is not None and (data_root / dataset.dataset).is_file():
        return evaluate_models(
            None if champion is None else champion.uri,
            challenger.uri,
            data_root / dataset.dataset,
            dataset.label,
            tracking_uri=tracking_uri,
            data_name=dataset.dataset,
        )
    notes: tuple[str, ...] = ()
    if dataset is not None:
        notes = (
            f"evaluation dataset `{dataset.dataset}` is not available to the bot; "
            "compared logged metrics only",
        )
    return Comparison(
        task=Task.BINARY,
        n=0,
        metrics=compare_metrics(None if champion is None else champion.metrics, challenger.metrics),
        notes=notes,
        provenance=Provenance(
            champion_uri=None if champion is None else champion.uri,
            challenger_uri=challenger.uri,
            champion_run_id=None if champion is None else champion.run_id,
            challenger_run_id=challenger.run_id,
            code_version=_version(),
        ),
    )


def _version() -> str:
    import bot  # noqa: PLC0415 - avoid a cycle at import time

    return bot.__version__


def gather(services: Services, model: str, version: str, environment: str) -> Proposal:
    """Champion manifest, policy, both versions and their comparison."""
    champion = read_manifest(services.forge, model, environment)
    policy = read_policy(services.forge, model, environment)
    challenger = services.registry.get_version(model, version)
    champion_info = (
        None if champion is None else services.registry.get_version(model, champion.version)
    )
    comparison = compare(
        services.data_root, services.tracking_uri, policy, champion_info, challenger
    )
    return Proposal(model, environment, champion, challenger, champion_info, policy, comparison)


def proposed_manifest(proposal: Proposal, pull_request: int | None = None) -> ModelManifest:
    """The champion's manifest moved to the challenger, or a first manifest."""
    info = proposal.challenger
    deployment = (
        proposal.champion.deployment
        if proposal.champion is not None
        else Deployment(endpoint=proposal.model)
    )
    data_sha = proposal.comparison.provenance.data_sha256
    return ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": proposal.model,
            "environment": proposal.environment,
            "version": info.version,
            "source": Source(
                registry=info.registry or RegistryKind.MLFLOW, uri=info.uri, run_id=info.run_id
            ),
            # MLflow stores NaN and infinite values; a manifest holds finite numbers only.
            "metrics": {
                k: round(v, 6) for k, v in sorted(info.metrics.items()) if math.isfinite(v)
            },
            "evaluation": Evaluation(
                dataset=None
                if proposal.policy.evaluation is None
                else proposal.policy.evaluation.dataset,
                data_sha256=data_sha,
                champion_version=None if proposal.champion is None else proposal.champion.version,
                pull_request=pull_request,
            ),
            "deployment": deployment,
        }
    )


def utcnow() -> dt.datetime:
    """The clock, read at the edges only."""
    return dt.datetime.now(dt.UTC)
