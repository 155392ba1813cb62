"""Where the Azure ML workspace and the Azure DevOps project are, and how to sign in.

Plain models nested in promobot's settings (`bot.settings`), which say which environment
variables fill them. They import no Azure SDK: building the clients is `bot.azure.clients`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.domain.azure_deployment import NoCodeRules

PUBLIC_ARM = "https://management.azure.com"


class AzureSettings(BaseModel):
    """Where the Azure ML workspace is and how promobot talks to it.

    Each field is read from `PROMOBOT_AZURE_<FIELD>`; the workspace also from the
    variables Azure tooling sets (`AZURE_SUBSCRIPTION_ID`, `AZURE_RESOURCE_GROUP`,
    `AZUREML_WORKSPACE_NAME`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscription_id: str = Field(
        description="Azure subscription id of the workspace.",
    )
    resource_group: str = Field(
        description="Resource group of the workspace.",
    )
    workspace: str = Field(
        description="Azure ML workspace name.",
    )
    base_url: str | None = Field(
        default=None,
        description="Resource Manager URL override (the sandbox); None for Azure's public cloud.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Static bearer token (the sandbox); None signs in with DefaultAzureCredential.",
    )
    max_retries: int = Field(
        default=5,
        ge=0,
        description="Retries of a call answered 408, 429 or 5xx; `Retry-After` is honoured.",
    )
    retry_backoff_max: float = Field(
        default=60.0,
        gt=0,
        description="Longest pause between retries without `Retry-After`, in seconds.",
    )
    operation_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How long to wait for one long-running operation (a deployment takes minutes).",
    )
    retire_grace_seconds: float = Field(
        default=0.0,
        ge=0,
        description="How long a deployment that lost its traffic is kept for a fast rollback.",
    )
    smoke_requests_dir: Path | None = Field(
        default=None,
        description="Folder of `<model>.json` scoring requests that smoke-test new deployments.",
    )
    health_probes: int = Field(
        default=3,
        ge=1,
        description="Scoring calls through the endpoint at each canary step; all must succeed.",
    )
    probe_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of a smoke test or health probe that failed on the way (a front "
        "end's 502/503/504, a timeout, a dropped connection) before it counts as failed.",
    )
    probe_retry_seconds: float = Field(
        default=5.0, ge=0, description="Pause before retrying such a probe."
    )
    settle_poll_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Pause between two reads of an endpoint or deployment whose last operation "
        "still runs (Azure refuses writes on it with 409 until it ends).",
    )
    no_code: NoCodeRules = Field(
        default_factory=NoCodeRules,
        description="What Azure's no-code MLflow image accepts from a model, checked before a "
        "deployment without an environment is created.",
    )

    @property
    def arm_url(self) -> str:
        """The Resource Manager root this configuration talks to."""
        return (self.base_url or PUBLIC_ARM).rstrip("/")


class AzureDevOpsSettings(BaseModel):
    """Which Azure DevOps organization and project run the deployment pipeline.

    Each field is read from `PROMOBOT_AZURE_DEVOPS_<FIELD>`, or from the variables
    Azure Pipelines and the Azure DevOps CLI set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    organization_url: str = Field(
        description="Organization URL, e.g. `https://dev.azure.com/contoso`.",
    )
    project: str = Field(
        description="Project that holds the pipeline.",
    )
    token: SecretStr = Field(
        description="Personal access token with `Build (read and execute)` scope.",
    )
    poll_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Pause between two reads of a running pipeline.",
    )
    timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How long to wait for a run to complete.",
    )
    max_retries: int = Field(
        default=5,
        ge=0,
        description="Retries of a call answered 429 or 5xx; `Retry-After` is honoured.",
    )
