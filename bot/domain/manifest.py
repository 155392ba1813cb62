"""The model manifest: the desired state of one model in one environment.

`model-manifests/<environment>/<model>.yaml` on the default branch says which
version serves; a promotion pull request changes it; CD applies it.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain.azure_deployment import AzureMLServing
from bot.domain.azure_names import endpoint_name_problem
from bot.domain.layout import manifest_path
from bot.domain.naming import name_problem, version_problem

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
"""Model, environment and endpoint names: lower case, digits, `.`, `_`, `-`."""


class _FileModel(BaseModel):
    # NaN compares false with everything: a NaN bound or metric would decide a rule by accident.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


class RegistryKind(enum.StrEnum):
    """Where model versions are registered."""

    MLFLOW = "mlflow"
    AZUREML = "azureml"


class TargetKind(enum.StrEnum):
    """Where a model version is served."""

    LOCAL = "local"
    AZUREML = "azureml"
    AZURE_DEVOPS = "azure-devops"


class Strategy(enum.StrEnum):
    """How traffic moves from the serving version to the new one."""

    BLUE_GREEN = "blue-green"
    CANARY = "canary"


class Source(_FileModel):
    """Where the version comes from, so it can be fetched and checked."""

    registry: RegistryKind = Field(
        default=RegistryKind.MLFLOW, description="Model registry that holds the version."
    )
    uri: str = Field(
        min_length=1, description="Model URI in the registry, e.g. `models:/churn-classifier/7`."
    )
    run_id: str | None = Field(default=None, description="Run that produced the version.")
    digest: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="`sha256:<hex>` of the model's artifacts, when known.",
    )


class Evaluation(_FileModel):
    """How the version was evaluated before promotion."""

    dataset: str | None = Field(default=None, description="Evaluation dataset (path or URI).")
    data_sha256: str | None = Field(default=None, description="SHA-256 of the evaluation data.")
    champion_version: str | None = Field(
        default=None, description="Version it was compared against; None on a first deployment."
    )
    pull_request: int | None = Field(
        default=None, ge=1, description="Number of the promotion pull request."
    )


class Deployment(_FileModel):
    """Where and how the version is deployed."""

    target: TargetKind = Field(default=TargetKind.LOCAL, description="Deployment target kind.")
    endpoint: str = Field(pattern=NAME_PATTERN, description="Endpoint that serves the model.")
    strategy: Strategy = Field(
        default=Strategy.BLUE_GREEN, description="`blue-green` (switch at once) or `canary`."
    )
    canary_steps: tuple[int, ...] = Field(
        default=(10, 50, 100),
        description="Traffic percentages of a canary, ascending and ending at 100.",
    )
    step_pause_seconds: float = Field(
        default=30.0, ge=0, description="Pause and health check between canary steps."
    )
    instance_type: str | None = Field(
        default=None, description="Azure ML VM size, e.g. `Standard_DS3_v2`."
    )
    instance_count: int = Field(default=1, ge=1, description="Instances behind the deployment.")
    pipeline_id: int | None = Field(
        default=None, ge=1, description="Azure DevOps pipeline that deploys (target azure-devops)."
    )
    azureml: AzureMLServing | None = Field(
        default=None,
        description="Target azureml: the environment (and scoring script) that runs a model "
        "Azure ML's no-code MLflow image cannot serve; none for a no-code deployment.",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_for_its_target(cls, value: str, info: ValidationInfo) -> str:
        # Azure ML's endpoint names are stricter, and unique in the region across customers.
        if info.data.get("target") is TargetKind.AZUREML:
            problem = endpoint_name_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _check_azureml_serving(self) -> Deployment:
        if self.azureml is not None and self.target is not TargetKind.AZUREML:
            raise ValueError("azureml (environment, scoring script) applies to target azureml")
        return self

    @model_validator(mode="after")
    def _check_canary_steps(self) -> Deployment:
        steps = self.canary_steps
        if not steps or any(not 0 < s <= 100 for s in steps):
            raise ValueError("canary_steps must be percentages between 1 and 100")
        if list(steps) != sorted(set(steps)) or steps[-1] != 100:
            raise ValueError("canary_steps must be strictly ascending and end at 100")
        return self


class ModelManifest(_FileModel):
    """Desired state of one model in one environment."""

    api_version: Literal["promobot/v1"] = Field(
        alias="apiVersion", description="Format version; always `promobot/v1`."
    )
    kind: Literal["ModelManifest"] = Field(description="Always `ModelManifest`.")
    model: str = Field(pattern=NAME_PATTERN, description="Registered model name.")
    environment: str = Field(pattern=NAME_PATTERN, description="Environment, e.g. `production`.")
    version: str = Field(
        pattern=r"^[0-9A-Za-z._-]+$", description="Registry version that should serve."
    )
    source: Source = Field(description="Where the version comes from.")
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Metrics of the version, as recorded in the registry."
    )
    evaluation: Evaluation = Field(
        default_factory=Evaluation, description="How the version was evaluated."
    )
    deployment: Deployment = Field(description="Where and how it is served.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # `version: 7` is what people write; registries call it "7".
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("model", "environment")
    @classmethod
    def _names_git_accepts(cls, value: str, info: ValidationInfo) -> str:
        # Both become a path and a branch name: `x..` or `x.lock` fit the pattern, not git.
        problem = name_problem(str(info.field_name), value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("version")
    @classmethod
    def _version_git_accepts(cls, value: str) -> str:
        problem = version_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def path(self) -> str:
        """Where this manifest lives in the repository."""
        return manifest_path(self.model, self.environment)
