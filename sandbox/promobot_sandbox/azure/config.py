"""Settings of the sandbox Azure: which workspace it pretends to be and how fast it works."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

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
    operation_seconds: float = Field(
        default=2.0, ge=0, description="How long a long-running operation stays in progress."
    )
    poll_after_ms: int = Field(
        default=1000, ge=1, description="Polling delay advertised to clients (`Retry-After`)."
    )
    pipeline_seconds: float = Field(
        default=3.0, ge=0, description="How long an Azure DevOps pipeline run stays in progress."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow store holding the runs behind models; default `DIR/mlflow.db`.",
    )

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
