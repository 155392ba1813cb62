"""A local stand-in for Azure: the Resource Manager calls azure-ai-ml makes for online
endpoints, deployments and models, the scoring URI, MLflow `runs/get`, and Azure DevOps
pipeline runs. azure-ai-ml and azure-devops talk to it unchanged over HTTP."""

from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.server import SandboxAzureServer

__all__ = ["SandboxAzureConfig", "SandboxAzureServer"]
