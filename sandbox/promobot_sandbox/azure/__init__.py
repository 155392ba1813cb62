"""A local stand-in for Azure: the Resource Manager calls azure-ai-ml makes for online
endpoints, deployments and models, the scoring URI, MLflow `runs/get`, and Azure DevOps
pipeline runs. azure-ai-ml and azure-devops talk to it unchanged over HTTP, and it holds
them to what Azure enforces: operation times, conflicts, quota, roles, token expiry,
names, tags, the no-code MLflow image's rules and the pipelines' declared parameters."""

from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.seed import AzureSeed
from promobot_sandbox.azure.server import SandboxAzureServer
from promobot_sandbox.azure.timing import OperationDurations

__all__ = ["AzureSeed", "OperationDurations", "SandboxAzureConfig", "SandboxAzureServer"]
