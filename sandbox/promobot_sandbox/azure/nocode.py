"""The rules of Azure ML's no-code MLflow deployment: a deployment with no environment
and no scoring script.

"Automatic generation of the `scoring_script` and `environment` is only supported for
the `PyFunc` model flavor", the model must be registered as an MLflow model, and the
generated environment is built from the model's conda.yaml at container start
(https://learn.microsoft.com/azure/machine-learning/how-to-deploy-mlflow-models-online-endpoints).
A deployment of a model of another type with no environment is refused when it is
created, with the validation error Azure ML gives for a missing environment
(https://github.com/Azure/azure-sdk-for-python/issues/30741).

What the image needs from the model changes as Azure updates it, so the rules are
settings. Today: the generated scoring script imports `azureml.ai.monitoring`, so the
model's conda.yaml must install `azureml-ai-monitoring`
(https://github.com/Azure/azureml-examples/pull/3902), and models logged with MLflow 3
crash the image (https://github.com/Azure/azureml-examples/pull/4051). Either way the
container fails its liveness probe and provisioning fails with
"User container has crashed or terminated" (the error the same pull requests quote);
the reason is in the deployment's logs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from promobot_sandbox.azure.base import ArmError, JsonDict

CRASHED = (
    "User container has crashed or terminated: Liveness probe failed: "
    "HTTP probe failed with statuscode: 502."
)
_MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class NoCodeRules(BaseModel):
    """What the no-code MLflow image accepts from a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mlflow_below: str | None = Field(
        default="3", description="The MLflow version the model was logged with, below."
    )
    mlflow_at_least: str | None = Field(
        default=None, description="The MLflow version the model was logged with, at least."
    )
    required_packages: list[str] = Field(
        default_factory=lambda: ["azureml-ai-monitoring"],
        description="Packages the model's conda.yaml must install for the scoring script.",
    )
    flavor: str = Field(
        default="python_function", description="The MLflow flavour the image loads."
    )


def is_no_code(body: JsonDict) -> bool:
    """Whether a deployment leaves the environment and scoring script to Azure."""
    props = body.get("properties") or {}
    return not props.get("environmentId") and not props.get("codeConfiguration")


def check_model_type(data: JsonDict, body: JsonDict) -> None:
    """400 for a no-code deployment of a model that is not an MLflow model."""
    if not is_no_code(body):
        return
    found = _MODEL_ID.search(str((body.get("properties") or {}).get("model") or ""))
    if not found:
        return
    versions = data["models"].get(found["name"], {}).get("versions", {})
    version = versions.get(found["version"])
    if version is None or version["properties"].get("modelType") == "mlflow_model":
        return
    detail = {
        "code": "ArgumentNullOrEmpty",
        "target": "EnvironmentId",
        "message": "'Environment Id' must not be empty.",
    }
    raise ArmError(400, "BadArgument", "'Environment Id' must not be empty.", details=[detail])


def container_problems(rules: NoCodeRules, model_dir: Path) -> list[str]:
    """Why the no-code image's container would crash on this model; empty when it runs."""
    mlmodel_path = model_dir / "MLmodel"
    if not mlmodel_path.is_file():
        return [f"FileNotFoundError: no MLmodel file in the model folder {model_dir.name}/"]
    mlmodel: dict[str, Any] = yaml.safe_load(mlmodel_path.read_text(encoding="utf-8")) or {}
    problems = []
    flavors = mlmodel.get("flavors") or {}
    if rules.flavor not in flavors:
        problems.append(
            f"MlflowException: the model has no {rules.flavor} flavor "
            f"(flavors: {', '.join(sorted(flavors)) or 'none'})"
        )
    installs = _conda_requirements(model_dir, flavors.get(rules.flavor) or {})
    pinned = installs.get("mlflow", installs.get("mlflow-skinny"))
    problems += _version_problems(rules, str(mlmodel.get("mlflow_version") or "0"), pinned)
    for package in rules.required_packages:
        if _normalized(package) not in installs:
            problems.append(
                f"ModuleNotFoundError: the scoring script imports {package}, "
                "which the model's conda.yaml does not install"
            )
    return problems


def _version_problems(rules: NoCodeRules, logged: str, spec: str | None) -> list[str]:
    """The image installs the MLflow the model's conda.yaml asks for: a pinned version, a
    version below an upper bound, or (unpinned) the newest release; without one, the
    model's own `mlflow_version` tells what it needs."""
    if spec is None:
        version, what = _version(logged), f"the model was logged with mlflow=={logged}"
    elif spec.startswith("="):  # pip's `==` or conda's `=`
        version, what = _version(spec.lstrip("=")), f"its conda.yaml installs mlflow{spec}"
    else:
        bound = re.search(r"<\s*([0-9][0-9.]*)", spec)
        # Below an upper bound means just below it; no bound means the newest release.
        version = (*_version(bound.group(1)), -1) if bound else (10**9,)
        what = f"its conda.yaml installs mlflow{spec or ' (newest)'}"
    problems = []
    if rules.mlflow_below and version >= _version(rules.mlflow_below):
        problems.append(f"the no-code MLflow image needs mlflow<{rules.mlflow_below}; {what}")
    if rules.mlflow_at_least and version < _version(rules.mlflow_at_least):
        problems.append(f"the no-code MLflow image needs mlflow>={rules.mlflow_at_least}; {what}")
    return problems


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def _conda_requirements(model_dir: Path, pyfunc: dict[str, Any]) -> dict[str, str]:
    """Packages the model's conda.yaml installs (conda and pip), with their version spec."""
    env = pyfunc.get("env")
    conda_file = env.get("conda") if isinstance(env, dict) else env
    path = model_dir / str(conda_file or "conda.yaml")
    if not path.is_file():
        return {}
    conda: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = {}
    for dependency in conda.get("dependencies") or []:
        entries = dependency.get("pip", []) if isinstance(dependency, dict) else [dependency]
        for entry in entries:
            match = _REQUIREMENT.match(str(entry))
            if match:
                spec = str(entry)[match.end() :].split(";")[0].strip().replace(" ", "")
                found[_normalized(match.group(1))] = spec
    return found


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
