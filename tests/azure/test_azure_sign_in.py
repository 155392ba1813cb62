"""Signing in for a rollout that outlasts one access token: inside an Azure Pipelines task
promobot uses the service connection's federated credential, and every call it makes asks
its credential for a token, so a credential that renews carries a long rollout through."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.identity import AzurePipelinesCredential, DefaultAzureCredential
from promobot_sandbox.azure.timing import OperationDurations

from bot.azure.clients import PIPELINE_VARIABLES, build_credential
from bot.azure.settings import AzureSettings
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import AzureWorld, make_manifest, own_sandbox

PIPELINE_TASK = {
    "AZURESUBSCRIPTION_TENANT_ID": "00000000-0000-0000-0000-0000000000aa",
    "AZURESUBSCRIPTION_CLIENT_ID": "00000000-0000-0000-0000-0000000000bb",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "00000000-0000-0000-0000-0000000000cc",
    "SYSTEM_ACCESSTOKEN": "job-access-token",
    "SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/contoso/00000000/_apis/distributedtask/",
    "TF_BUILD": "True",
}
"""What an AzureCLI@2 task with a workload-identity service connection gives its script,
with `SYSTEM_ACCESSTOKEN: $(System.AccessToken)` mapped by the step."""


def _production_settings() -> AzureSettings:
    return AzureSettings(subscription_id="sub", resource_group="rg", workspace="ws")


def test_in_a_pipeline_task_promobot_signs_in_with_the_service_connection() -> None:
    """The Azure CLI's session from workload identity federation cannot be refreshed after
    about an hour; AzurePipelinesCredential asks the pipeline for a new federated token."""
    credential = build_credential(_production_settings(), PIPELINE_TASK)

    assert isinstance(credential, AzurePipelinesCredential)


@pytest.mark.parametrize("missing", PIPELINE_VARIABLES)
def test_without_the_whole_service_connection_promobot_uses_the_default_chain(
    missing: str,
) -> None:
    """A task without `SYSTEM_ACCESSTOKEN` mapped, or outside a pipeline: the default chain
    (managed identity, the Azure CLI session kept alive by the task, ...)."""
    environ = {k: v for k, v in PIPELINE_TASK.items() if k != missing}

    assert isinstance(build_credential(_production_settings(), environ), DefaultAzureCredential)


class SandboxSignIn:
    """Microsoft Entra ID as the sandbox sees it: each token it issues is an identity that
    expires `lifetime` seconds of sandbox time after it is issued; a new one is issued once
    half of that has passed, as a token cache renews before expiry."""

    def __init__(self, world: AzureWorld, lifetime: float) -> None:
        self._world = world
        self._lifetime = lifetime
        self._token = ""
        self._renew_at = 0.0
        self._expires_at = 0.0
        self.issued = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A token valid now; its expiry told on the wall clock, as Entra's would be."""
        del scopes, kwargs
        now = self._world.clock()
        if now >= self._renew_at:
            self._token = f"entra-{uuid.uuid4().hex}"
            identity = {
                "token": self._token,
                "name": "pipeline",
                "lifetime_seconds": self._lifetime,
            }
            self._world.seed(identities=[identity])
            self._renew_at, self._expires_at = now + self._lifetime / 2, now + self._lifetime
            self.issued += 1
        factor = self._world.config.clock_factor
        return AccessToken(self._token, int(time.time() + (self._expires_at - now) / factor))


def test_a_rollout_longer_than_a_token_completes_with_a_credential_that_renews(
    azure: AzureWorld, tmp_path: Path
) -> None:
    """Deployments take Azure's ten minutes and traffic updates one: three versions and a
    rollback pass the hour a token lives, and every call is signed with a current one."""
    with own_sandbox(
        azure, tmp_path, durations=OperationDurations.realistic(), clock_factor=600
    ) as world:
        sign_in = SandboxSignIn(world, lifetime=3600)
        settings = world.settings(token=None, retire_grace_seconds=0, settle_poll_seconds=0.01)
        target = AzureMLTarget(settings, credential=sign_in, sleep=lambda _s: None)
        started = world.clock()
        canary = {"strategy": "canary", "canary_steps": [10, 50, 100]}

        for version in ("1", "2", "3", "1"):
            outcome = target.apply(make_manifest(version, "ep-long", **canary), lambda _l: None)

        elapsed = world.clock() - started

    assert outcome.state.traffic == {"1": 100}
    assert elapsed > 3600
    assert sign_in.issued >= 2
