"""Settings of the sandbox Azure: which workspace it pretends to be, how fast it works, and
what it starts with (`seed`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from promobot_sandbox.azure.seed import AzureSeed
from promobot_sandbox.azure.timing import OperationDurations, OperationKind

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


class SandboxAzureConfig(BaseModel):
    """Everything the sandbox needs to start; the CLI builds it from flags."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(description="Where state, downloaded models and MLflow data live.")
    subscription_id: str = Field(
        default=DEFAULT_SUBSCRIPTION, description="The only subscription the sandbox serves."
    )
    resource_group: str = Field(default="promobot-rg", description="The only resource group.")
    workspace: str = Field(default="promobot-ws", description="The only Azure ML workspace.")
    location: str = Field(default="westeurope", description="Region reported for every resource.")
    arm_token: str = Field(
        default="sandbox-arm-token",
        description="Bearer token accepted on management and MLflow calls.",
    )
    devops_organization: str = Field(
        default="promobot", description="The only Azure DevOps organization."
    )
    devops_pat: str = Field(
        default="sandbox-pat", description="Personal access token accepted by Azure DevOps calls."
    )
    tenant_id: str = Field(
        default="00000000-0000-0000-0000-000000000002",
        description="Microsoft Entra tenant named in authentication challenges.",
    )
    operation_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long (sandbox seconds) a long-running operation stays in progress.",
    )
    durations: OperationDurations = Field(
        default_factory=OperationDurations,
        description="Per kind of operation, overriding `operation_seconds`; "
        "`OperationDurations.realistic()` takes minutes as Azure does.",
    )
    clock_factor: float = Field(
        default=1.0,
        gt=0,
        description="Sandbox seconds per wall-clock second: 600 makes ten minutes last one "
        "second, for operations, pipeline runs and token lifetimes alike.",
    )
    poll_after_ms: int = Field(
        default=1000, ge=1, description="Polling delay advertised to clients (`Retry-After`)."
    )
    pipeline_seconds: float = Field(
        default=3.0,
        ge=0,
        description="How long (sandbox seconds) an Azure DevOps pipeline run stays in progress.",
    )
    runs_list_limit: int = Field(
        default=10000,
        ge=1,
        description="How many of a pipeline's newest runs Runs - List returns ('top 10000').",
    )
    seed: AzureSeed = Field(
        default_factory=AzureSeed,
        description="Identities, pipelines, quota, names taken in the region, no-code rules.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow store holding the runs behind models; default `DIR/mlflow.db`.",
    )

    def duration(self, kind: OperationKind) -> float:
        """Sandbox seconds an operation of this kind takes."""
        seconds = getattr(self.durations, kind)
        return self.operation_seconds if seconds is None else float(seconds)

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI the sandbox reads runs and model artifacts from."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def workspace_path(self) -> str:
        """The ARM path of the workspace, without a leading host."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )
