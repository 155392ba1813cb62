"""What an Azure ML managed online deployment needs before it is created: quota for its
cores, and a model the no-code MLflow image can serve (or an environment of its own).

Quota: "If you request a given number of instances for those VM SKUs in a deployment,
you must have a quota for `ceil(1.2 * number of instances requested for deployment) *
number of cores for the VM SKU`"; some GPU sizes skip the 20% reservation
(https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#virtual-machine-quota-allocation-for-deployment,
https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list).
Every deployment that exists holds its cores, whatever its traffic, until it is deleted
(https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#cpu-quota).

No-code: a deployment without an environment and a scoring script runs a registered
`mlflow_model` with its `python_function` flavour in an image Azure builds from the model's
conda.yaml (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-mlflow-models-online-endpoints).
Today that image needs `azureml-ai-monitoring` in the conda.yaml
(https://github.com/Azure/azureml-examples/pull/3902) and crashes on models logged with
MLflow 3 (https://github.com/Azure/azureml-examples/pull/4051); `NoCodeRules` holds both,
since Azure changes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MLFLOW_MODEL = "mlflow_model"
PYFUNC = "python_function"
SKIPS_RESERVATION = frozenset(
    name.lower()
    for name in (
        "Standard_NC24ads_A100_v4",
        "Standard_NC48ads_A100_v4",
        "Standard_NC96ads_A100_v4",
        "Standard_NC40ads_H100_v5",
        "Standard_NC80adis_H100_v5",
        "Standard_ND96amsr_A100_v4",
        "Standard_ND96asr_v4",
        "Standard_ND40rs_v2",
        "Standard_ND96is_H100_v5",
        "Standard_ND96isr_H100_v5",
    )
)
"""Sizes the SKU list marks as exempt from the 20% reservation."""

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodeConfiguration(_Spec):
    """The scoring script a deployment runs instead of the no-code image's generated one."""

    code: str = Field(
        min_length=1,
        description="Folder with the scoring code: a path in the repository, or a registered "
        "code asset `azureml:<name>:<version>`.",
    )
    scoring_script: str = Field(
        min_length=1, description="The script in that folder, e.g. `score.py` (init and run)."
    )


class AzureMLServing(_Spec):
    """How Azure ML runs a model the no-code MLflow image cannot serve."""

    environment: str = Field(
        min_length=1,
        description="Azure ML environment, e.g. `azureml:churn-inference:3` or "
        "`azureml://registries/azureml/environments/sklearn-1.5/labels/latest`.",
    )
    code_configuration: CodeConfiguration | None = Field(
        default=None, description="Scoring script; required for models that are not MLflow."
    )


class NoCodeRules(_Spec):
    """What the no-code MLflow image accepts from a model's MLmodel and conda.yaml."""

    mlflow_below: str | None = Field(
        default="3", description="The MLflow version the model was logged with must be below."
    )
    required_packages: tuple[str, ...] = Field(
        default=("azureml-ai-monitoring",),
        description="Packages the model's conda.yaml must install.",
    )


def required_cores(cores: int, instance_count: int, *, skips_reservation: bool = False) -> int:
    """Cores of quota a deployment of `instance_count` instances of a `cores`-core size holds."""
    instances = instance_count if skips_reservation else math.ceil(1.2 * instance_count)
    return instances * cores


def quota_formula(cores: int, instance_count: int, *, skips_reservation: bool = False) -> str:
    """The arithmetic behind `required_cores`, to show in a message."""
    total = required_cores(cores, instance_count, skips_reservation=skips_reservation)
    if skips_reservation:
        return f"{instance_count} x {cores} = {total}"
    return f"ceil(1.2 x {instance_count}) x {cores} = {total}"


def no_code_problems(
    model_type: str,
    mlmodel: Mapping[str, Any] | None,
    conda: Mapping[str, Any] | None,
    rules: NoCodeRules,
) -> list[str]:
    """Why the no-code MLflow image would refuse or crash on this model; empty when it serves
    it. `mlmodel` and `conda` are the parsed MLmodel and conda.yaml, None when unread (an
    empty `mlmodel`: the file does not exist)."""
    if model_type != MLFLOW_MODEL:
        return [f"it is registered as {model_type}; the no-code image serves only {MLFLOW_MODEL}"]
    if mlmodel is None:
        return []
    if not mlmodel:
        return ["its folder has no MLmodel file, so it is not an MLflow model"]
    problems = []
    flavors = mlmodel.get("flavors") or {}
    if PYFUNC not in flavors:
        names = ", ".join(sorted(flavors)) or "none"
        problems.append(f"its MLmodel has no {PYFUNC} flavour (flavours: {names})")
    installs = conda_requirements(conda) if conda is not None else None
    logged = str(mlmodel.get("mlflow_version") or "")
    problems += _mlflow_problems(rules, logged, installs)
    if installs is not None:
        problems += [
            f"its conda.yaml does not install {package}"
            for package in rules.required_packages
            if normalized_package(package) not in installs
        ]
    return problems


def _mlflow_problems(
    rules: NoCodeRules, logged: str, installs: Mapping[str, str] | None
) -> list[str]:
    if rules.mlflow_below is None:
        return []
    spec = None if installs is None else installs.get("mlflow", installs.get("mlflow-skinny"))
    if _fits_below(spec, logged, version_tuple(rules.mlflow_below)):
        return []
    if spec is None:
        what = f"it was logged with mlflow {logged}"
    else:
        what = f"its conda.yaml installs mlflow{spec or ' (the newest release)'}"
    return [f"{what}; the no-code image needs mlflow<{rules.mlflow_below}"]


def _fits_below(spec: str | None, logged: str, limit: tuple[int, ...]) -> bool:
    """Whether the MLflow the image installs is below `limit`: the conda.yaml's pin or upper
    bound, the newest release when it names mlflow without one, else the logged version."""
    if spec is None:
        return not logged or version_tuple(logged) < limit
    pinned = re.fullmatch(r"={1,3}([0-9][0-9A-Za-z.]*)", spec)
    if pinned:
        return version_tuple(pinned.group(1)) < limit
    compatible = re.search(r"~=([0-9][0-9.]*)", spec)
    if compatible:
        parts = [int(p) for p in re.findall(r"\d+", compatible.group(1))]
        upper = (*parts[:-2], parts[-2] + 1) if len(parts) >= 2 else tuple(parts)
        return version_tuple(".".join(map(str, upper))) <= limit
    bound = re.search(r"<(=?)([0-9][0-9.]*)", spec)
    if bound is None:
        return False
    upper = version_tuple(bound.group(2))
    return upper < limit if bound.group(1) else upper <= limit


def conda_requirements(conda: Mapping[str, Any]) -> dict[str, str]:
    """Package -> version spec (`==2.16.2`, `<3`, or empty) of what a conda.yaml installs,
    conda and pip alike, with names normalised as pip compares them."""
    found: dict[str, str] = {}
    dependencies: Sequence[Any] = conda.get("dependencies") or []
    for dependency in dependencies:
        entries = dependency.get("pip") or [] if isinstance(dependency, dict) else [dependency]
        for entry in entries:
            match = _REQUIREMENT.match(str(entry))
            if match:
                spec = str(entry)[match.end() :].split(";")[0].replace(" ", "")
                found[normalized_package(match.group(1))] = spec
    return found


def normalized_package(name: str) -> str:
    """A package name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def version_tuple(text: str) -> tuple[int, ...]:
    """`2.16.2` -> (2, 16, 2), `3.0` -> (3,): comparable as tuples; stops at the first part
    that is not a number and drops trailing zeros."""
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)
