"""Checks made before a paid Azure ML deployment is created: a model the no-code image can
serve, and quota for the deployment's cores.

Each problem is raised before anything is created, with the fix in its hint. What cannot
be read (a model stored where MLflow cannot reach it, a family the usages API does not
report) is said on the progress line and left for Azure to judge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bot.azure.errors import azure_message
from bot.azure.settings import AzureSettings
from bot.azure.tracking import ArtifactUnreadable, WorkspaceTracking
from bot.domain.azure_deployment import (
    PYFUNC,
    SKIPS_RESERVATION,
    AzureMLServing,
    no_code_problems,
    quota_formula,
    required_cores,
)
from bot.errors import TargetError, UserInputError
from bot.targets.base import Progress

_JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<job>[^/]+)/outputs/artifacts/paths/(?P<path>.+?)/?$")
NO_CODE_FIX = (
    "log the model with mlflow<3 and `extra_pip_requirements=['azureml-ai-monitoring']`, "
    "register it as type mlflow_model, or name an environment (and a scoring script) in the "
    "manifest's `deployment.azureml`; see README, 'Deploying to Azure ML'"
)


@dataclass(frozen=True)
class PlannedDeployment:
    """The deployment about to be created."""

    endpoint: str
    name: str
    model: str
    version: str
    instance_type: str
    instance_count: int
    serving: AzureMLServing | None


@dataclass(frozen=True)
class ModelFiles:
    """A registered model version and, when readable, its MLmodel and conda.yaml."""

    model_type: str
    mlmodel: dict[str, Any] | None
    conda: dict[str, Any] | None
    unread: str | None


class Preflight:
    """Reads what Azure ML would refuse or crash on, through azure-ai-ml and MLflow."""

    def __init__(self, settings: AzureSettings, ml_client: Any, tracking: WorkspaceTracking):
        self.settings = settings
        self._ml = ml_client
        self._tracking = tracking

    def check(
        self, plan: PlannedDeployment, existing: Mapping[str, Any], progress: Progress
    ) -> None:
        """Raise `UserInputError` or `TargetError` for what would fail; `existing` are the
        endpoint's deployments (name -> azure-ai-ml deployment)."""
        location = str(self._ml.workspaces.get(self.settings.workspace).location)
        if plan.serving is None:
            self._check_no_code(plan, progress)
        self._check_quota(plan, existing, location, progress)

    # Model -----------------------------------------------------------------------

    def _check_no_code(self, plan: PlannedDeployment, progress: Progress) -> None:
        files = self.model_files(plan.model, plan.version)
        if files.unread:
            progress(f"no-code rules not checked: {files.unread}")
        problems = no_code_problems(
            files.model_type, files.mlmodel, files.conda, self.settings.no_code
        )
        if problems:
            raise UserInputError(
                f"model {plan.model} version {plan.version} cannot be served by Azure ML's "
                f"no-code MLflow image: {'; '.join(problems)}",
                hint=NO_CODE_FIX,
            )

    def model_files(self, model: str, version: str) -> ModelFiles:
        """The version's type, MLmodel and conda.yaml, read from the run that logged it."""
        try:
            found = self._ml.models.get(name=model, version=version)
        except ResourceNotFoundError as exc:
            raise UserInputError(
                f"model {model} has no version {version} in Azure ML workspace "
                f"{self.settings.workspace}",
                hint=f"register it first, or check the manifest; `az ml model list --name {model}`",
            ) from exc
        model_type = str(found.type or "custom_model")
        job = _JOB_OUTPUT.match(str(found.path or ""))
        if job is None:
            return ModelFiles(model_type, None, None, f"its path {found.path} is not a job output")
        run = self._tracking.get_run(job["job"])
        artifact_uri = str(((run or {}).get("info") or {}).get("artifact_uri") or "")
        if not artifact_uri:
            return ModelFiles(model_type, None, None, f"run {job['job']} is not in the workspace")
        try:
            return self._read_files(model_type, artifact_uri, job["path"])
        except ArtifactUnreadable as exc:
            return ModelFiles(model_type, None, None, f"{exc} (install azureml-mlflow)")

    def _read_files(self, model_type: str, artifact_uri: str, path: str) -> ModelFiles:
        text = self._tracking.read_artifact(artifact_uri, f"{path}/MLmodel")
        if text is None:
            return ModelFiles(model_type, {}, None, None)
        mlmodel = yaml.safe_load(text) or {}
        env = ((mlmodel.get("flavors") or {}).get(PYFUNC) or {}).get("env")
        conda_file = env.get("conda") if isinstance(env, dict) else env
        conda_text = self._tracking.read_artifact(
            artifact_uri, f"{path}/{conda_file or 'conda.yaml'}"
        )
        conda = yaml.safe_load(conda_text) or {} if conda_text is not None else None
        return ModelFiles(model_type, mlmodel, conda, None)

    # Quota -----------------------------------------------------------------------

    def _check_quota(
        self,
        plan: PlannedDeployment,
        existing: Mapping[str, Any],
        location: str,
        progress: Progress,
    ) -> None:
        try:
            listed_sizes = list(self._ml.compute.list_sizes(location=location))
            usages = list(self._ml.compute.list_usage(location=location))
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
            progress(
                f"quota not checked: {azure_message(exc)} (the region's usages need "
                "Microsoft.MachineLearningServices/locations/*/read)"
            )
            return
        sizes = {str(vars(s).get("name")).lower(): vars(s) for s in listed_sizes}
        size = sizes.get(plan.instance_type.lower())
        if size is None:
            raise UserInputError(
                f"instance type {plan.instance_type} of endpoint {plan.endpoint} is not offered "
                f"in {location}",
                hint="set `deployment.instance_type` to a size of the managed online endpoints SKU "
                "list (https://learn.microsoft.com/azure/machine-learning/"
                "reference-managed-online-endpoints-vm-sku-list), e.g. Standard_DS3_v2",
            )
        family, cores = str(size.get("family")), int(size.get("vCPUs") or 0)
        usage = _family_usage(usages, family)
        if usage is None:
            progress(f"quota not checked: the usages API reports nothing for {family}")
            return
        used, limit = usage
        holders = _holders(existing, sizes, family)
        freed = holders.pop(plan.name, (0, ""))[0]
        skips = plan.instance_type.lower() in SKIPS_RESERVATION
        needed = required_cores(cores, plan.instance_count, skips_reservation=skips)
        free = limit - used + freed
        formula = quota_formula(cores, plan.instance_count, skips_reservation=skips)
        if needed > free:
            held = ", ".join(f"{n} {c} ({state})" for n, (c, state) in sorted(holders.items()))
            raise TargetError(
                f"deployment {plan.name} of endpoint {plan.endpoint} needs {formula} cores of "
                f"{family} ({plan.instance_count} x {plan.instance_type}); {used} of {limit} are "
                f"in use in {location}"
                + (f" (this endpoint's {held})" if held else "")
                + f", so {free} are free",
                hint="the serving deployment keeps its cores while the new one rolls out, so the "
                "quota must hold both: request more quota for the family in Azure ML studio "
                "(Quota), lower `deployment.instance_count` or pick a smaller "
                "`deployment.instance_type`, or delete deployments without traffic",
            )
        progress(f"quota: {plan.name} needs {formula} cores of {family}; {free} of {limit} free")
        if free - needed < needed:
            progress(
                f"warning: after {plan.name}, {free - needed} cores of {family} are free: the "
                "next version of this size will not fit beside it until the quota grows"
            )


def usage_name(family: str) -> str:
    """The usages API's name of a VM family's dedicated cores: `standardDSv2Family` ->
    `Standard DSv2 Family Cluster Dedicated vCPUs` (the names of Usages - List,
    azure-rest-api-specs machinelearningservices examples/Usage/list.json)."""
    short = re.sub(r"(?i)^standard|family$", "", family).strip()
    return f"Standard {short} Family Cluster Dedicated vCPUs"


def _family_usage(usages: Any, family: str) -> tuple[int, int] | None:
    wanted = usage_name(family).lower()
    for usage in usages:
        fields = vars(usage)
        name = fields.get("name") or {}
        text = str(name.get("value") if isinstance(name, dict) else name).lower()
        kind = str(fields.get("type") or "")
        if (
            text == wanted
            and kind.endswith("vmFamily/usages")
            and int(fields.get("limit", -1)) >= 0
        ):
            return int(fields.get("currentValue") or 0), int(fields["limit"])
    return None


def _holders(
    existing: Mapping[str, Any], sizes: Mapping[str, Mapping[str, Any]], family: str
) -> dict[str, tuple[int, str]]:
    """The endpoint's deployments in `family`: name -> (cores held, provisioning state)."""
    held = {}
    for name, deployment in existing.items():
        size = sizes.get(str(deployment.instance_type or "").lower())
        if size is None or str(size.get("family")) != family:
            continue
        count = int(deployment.instance_count or 1)
        skips = str(deployment.instance_type).lower() in SKIPS_RESERVATION
        cores = required_cores(int(size.get("vCPUs") or 0), count, skips_reservation=skips)
        held[name] = (cores, str(deployment.provisioning_state).rsplit(".", 1)[-1].capitalize())
    return held
