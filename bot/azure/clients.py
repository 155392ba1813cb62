"""Azure credentials and the clients built from the settings.

Production reads the workspace from settings or the environment. Inside an Azure
Pipelines task that holds a workload-identity service connection (AzureCLI@2 sets
`AZURESUBSCRIPTION_CLIENT_ID`, `AZURESUBSCRIPTION_TENANT_ID` and
`AZURESUBSCRIPTION_SERVICE_CONNECTION_ID`; the step maps `SYSTEM_ACCESSTOKEN`), promobot
signs in with `AzurePipelinesCredential`, which asks the pipeline for a fresh federated
token whenever its access token runs out, so a rollout may outlast the hour after which
the Azure CLI's own session can no longer be refreshed
(https://learn.microsoft.com/python/api/azure-identity/azure.identity.azurepipelinescredential).
Elsewhere it signs in with `DefaultAzureCredential` (managed identity, workload identity,
Azure CLI, ...). The sandbox sets `base_url` to its loopback address and a static
`token`; azure-ai-ml is then pointed at it through a custom cloud, so the SDK's own
requests, polling and error handling run unchanged over HTTP.
"""

from __future__ import annotations

import ipaddress
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import BearerTokenCredentialPolicy
from azure.identity import AzurePipelinesCredential, DefaultAzureCredential
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

from bot.azure.settings import AzureSettings
from bot.errors import UserInputError


class StaticTokenCredential:
    """A `TokenCredential` that always returns one token: for the sandbox and for tests."""

    def __init__(self, token: str, lifetime_seconds: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime_seconds

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """The configured token, valid for the configured lifetime from now."""
        del scopes, claims, tenant_id, enable_cae, kwargs
        return AccessToken(self._token, int(time.time()) + self._lifetime)


PIPELINE_VARIABLES = (
    "AZURESUBSCRIPTION_TENANT_ID",
    "AZURESUBSCRIPTION_CLIENT_ID",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
    "SYSTEM_ACCESSTOKEN",
    "SYSTEM_OIDCREQUESTURI",
)
"""What an Azure Pipelines task with a workload-identity service connection provides."""


def build_credential(
    settings: AzureSettings, environ: Mapping[str, str] | None = None
) -> TokenCredential:
    """The static token when one is configured; inside an Azure Pipelines task with a
    service connection, `AzurePipelinesCredential`; else `DefaultAzureCredential`."""
    if settings.token is not None:
        return StaticTokenCredential(settings.token.get_secret_value())
    pipeline = pipeline_credential(os.environ if environ is None else environ)
    if pipeline is not None:
        return pipeline
    credential: TokenCredential = DefaultAzureCredential()
    return credential


def pipeline_credential(environ: Mapping[str, str]) -> TokenCredential | None:
    """`AzurePipelinesCredential` for the task's service connection, or None outside one."""
    if not all(environ.get(name) for name in PIPELINE_VARIABLES):
        return None
    credential: TokenCredential = AzurePipelinesCredential(
        tenant_id=environ["AZURESUBSCRIPTION_TENANT_ID"],
        client_id=environ["AZURESUBSCRIPTION_CLIENT_ID"],
        service_connection_id=environ["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
        system_access_token=environ["SYSTEM_ACCESSTOKEN"],
    )
    return credential


class LoopbackBearerPolicy(ARMChallengeAuthenticationPolicy):
    """Bearer authentication that allows plain HTTP, for loopback (sandbox) URLs only.

    azure-core refuses to send a bearer token over HTTP unless the request's
    `enforce_https` option is False; azure-ai-ml passes that option to some calls and
    not to others, so the policy sets it on every request it signs.
    """

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Sign the request, over HTTP if it goes to a loopback address."""
        if is_loopback(request.http_request.url):
            request.context["enforce_https"] = False
        super().on_request(request)


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_policy(
    settings: AzureSettings, credential: TokenCredential
) -> BearerTokenCredentialPolicy[Any, Any]:
    """The authentication policy for Resource Manager calls under these settings."""
    scope = f"{settings.arm_url}/.default"
    base = settings.arm_url
    if base.startswith("https://"):
        policy: BearerTokenCredentialPolicy[Any, Any] = ARMChallengeAuthenticationPolicy(
            credential, scope
        )
        return policy
    if not is_loopback(base):
        raise UserInputError(
            f"refusing to send Azure credentials over plain HTTP to {base}",
            hint="use an https:// base_url; plain HTTP is only allowed for the local sandbox",
        )
    return LoopbackBearerPolicy(credential, scope)


def ml_client_kwargs(settings: AzureSettings, credential: TokenCredential) -> dict[str, Any]:
    """Keyword arguments for `MLClient`: retries, and the sandbox's cloud when configured."""
    kwargs: dict[str, Any] = {
        "retry_total": settings.max_retries,
        "retry_backoff_max": settings.retry_backoff_max,
        "show_progress": False,
        "enable_telemetry": False,
    }
    if settings.base_url is None:
        return kwargs
    base = settings.arm_url
    kwargs["cloud"] = f"promobot-{urlsplit(base).netloc}"
    kwargs["cloud_metadata"] = {
        "azure_portal": f"{base}/",
        "resource_manager": f"{base}/",
        "active_directory": f"{base}/",
        "aml_resource_id": f"{base}/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": f"{base}/",
    }
    kwargs["authentication_policy"] = bearer_policy(settings, credential)
    return kwargs


def azure_ai_ml() -> Any:
    """The `azure.ai.ml` package, imported on first use (it takes seconds)."""
    from marshmallow.warnings import Marshmallow4Warning  # noqa: PLC0415

    with warnings.catch_warnings():
        # azure-ai-ml's schemas use marshmallow 3 options that marshmallow deprecates on import.
        warnings.filterwarnings("ignore", category=Marshmallow4Warning)
        import azure.ai.ml  # noqa: PLC0415
        import azure.ai.ml.entities  # noqa: PLC0415
    return azure.ai.ml


def build_ml_client(settings: AzureSettings, credential: TokenCredential | None = None) -> Any:
    """An `MLClient` for the configured workspace."""
    credential = credential or build_credential(settings)
    return azure_ai_ml().MLClient(
        credential,
        subscription_id=settings.subscription_id,
        resource_group_name=settings.resource_group,
        workspace_name=settings.workspace,
        **ml_client_kwargs(settings, credential),
    )
