"""azure-ai-ml's online endpoint and deployment calls, as the Azure ML target makes them.

Reads say None for what does not exist; writes wait for Azure's long-running operation;
a resource whose last operation still runs is read again until it ends, since Azure
answers 409 to any write on it ("When an operation is already in progress, any new
operation on that same online endpoint responds with a 409 conflict error",
https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints).
A scoring call that failed on the way to the model (see `bot.azure.errors.is_transient`)
is tried again a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from bot.azure.clients import azure_ai_ml
from bot.azure.errors import azure_message, is_transient
from bot.azure.settings import AzureSettings
from bot.domain.azure_deployment import AzureMLServing
from bot.domain.azure_traffic import tags_after
from bot.errors import TargetError
from bot.targets.base import Progress

_BUSY = ("Creating", "Updating", "Deleting")


class OnlineEndpoints:
    """The workspace's online endpoints and their deployments."""

    def __init__(
        self, ml_client: Any, settings: AzureSettings, sleep: Callable[[float], None]
    ) -> None:
        self._ml = ml_client
        self.settings = settings
        self._sleep = sleep

    # Reads -----------------------------------------------------------------------

    def endpoint(self, name: str) -> Any:
        """The endpoint, or None."""
        try:
            return self._ml.online_endpoints.get(name)
        except ResourceNotFoundError:
            return None

    def deployment(self, endpoint: str, name: str) -> Any:
        """The deployment, or None."""
        try:
            return self._ml.online_deployments.get(name=name, endpoint_name=endpoint)
        except ResourceNotFoundError:
            return None

    def deployments(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's deployments by name."""
        return {d.name: d for d in self._ml.online_deployments.list(endpoint_name=endpoint)}

    def settled_endpoint(self, name: str, progress: Progress) -> Any:
        """The endpoint once its last operation has ended, or None."""
        return self.settled(lambda: self.endpoint(name), f"endpoint {name}", progress)

    def settled(self, read: Callable[[], Any], what: str, progress: Progress) -> Any:
        """`read()` once the resource's last operation has ended (None once it is gone)."""
        current = read()
        if current is None or not is_busy(current):
            return current
        timeout = self.settings.operation_timeout_seconds
        deadline = time.monotonic() + timeout
        progress(f"{what} is {state_of(current)}: waiting for its operation to end")
        while current is not None and is_busy(current):
            if time.monotonic() > deadline:
                raise TargetError(
                    f"{what} is still {state_of(current)} after {timeout:g} s",
                    hint="its operation goes on in Azure; apply again once it has ended",
                )
            self._sleep(self.settings.settle_poll_seconds)
            current = read()
        return current

    # Writes ----------------------------------------------------------------------

    def create_endpoint(self, name: str, tags: Mapping[str, str]) -> None:
        """Create an endpoint with key authentication."""
        endpoint = azure_ai_ml().entities.ManagedOnlineEndpoint(
            name=name, auth_mode="key", tags=dict(tags)
        )
        self.wait(self._ml.online_endpoints.begin_create_or_update(endpoint), f"endpoint {name}")

    def create_deployment(
        self,
        endpoint: str,
        name: str,
        model: str,
        size: tuple[str, int],
        tags: Mapping[str, str],
        serving: AzureMLServing | None,
    ) -> None:
        """Create (or replace) a deployment of `model` on `size` (instance type and count);
        Azure's `HttpResponseError` when provisioning fails."""
        entities = azure_ai_ml().entities
        extra: dict[str, Any] = {}
        if serving is not None:
            extra["environment"] = serving.environment
            code = serving.code_configuration
            if code is not None:
                extra["code_configuration"] = entities.CodeConfiguration(
                    code=code.code, scoring_script=code.scoring_script
                )
        deployment = entities.ManagedOnlineDeployment(
            name=name,
            endpoint_name=endpoint,
            model=model,
            instance_type=size[0],
            instance_count=size[1],
            tags=dict(tags),
            **extra,
        )
        poller = self._ml.online_deployments.begin_create_or_update(deployment)
        self.wait(poller, f"deployment {name}")

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Delete a deployment and wait until it is gone."""
        poller = self._ml.online_deployments.begin_delete(name=name, endpoint_name=endpoint)
        self.wait(poller, f"deletion of deployment {name}")

    def set_traffic(
        self,
        name: str,
        traffic: Mapping[str, int],
        retired: set[str],
        serving: str | None,
        progress: Progress,
    ) -> None:
        """Give the endpoint this split, dating `retired` deployments' retirement and
        dropping the retirement tags of deployments that are gone."""
        endpoint = self.settled_endpoint(name, progress)
        existing = set(self.deployments(name))
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        endpoint.traffic = dict(traffic)
        endpoint.tags = tags_after(endpoint.tags or {}, retired, serving, existing, now)
        self.wait(self._ml.online_endpoints.begin_create_or_update(endpoint), f"endpoint {name}")

    def remove_tags(self, name: str, keys: set[str]) -> None:
        """Take tags off the endpoint; its traffic stays as it is."""
        endpoint = self._ml.online_endpoints.get(name)
        endpoint.tags = {k: v for k, v in (endpoint.tags or {}).items() if k not in keys}
        self.wait(self._ml.online_endpoints.begin_create_or_update(endpoint), f"endpoint {name}")

    def wait(self, poller: Any, what: str) -> Any:
        """The result of a long-running operation, within the configured timeout."""
        timeout = self.settings.operation_timeout_seconds
        poller.wait(timeout=timeout)
        if not poller.done():
            raise TargetError(
                f"{what} did not finish within {timeout:g} s",
                hint="raise PROMOBOT_AZURE_OPERATION_TIMEOUT_SECONDS, or follow the operation in "
                "the portal",
            )
        return poller.result()

    # Scoring ---------------------------------------------------------------------

    def invoke(self, request: Mapping[str, Any], endpoint: str, name: str) -> str:
        """One scoring call routed to deployment `name` (`azureml-model-deployment`)."""
        with tempfile.TemporaryDirectory(prefix="promobot-smoke-") as tmp:
            request_file = Path(tmp) / "request.json"
            request_file.write_text(json.dumps(request), encoding="utf-8")
            answer: str = self._ml.online_endpoints.invoke(
                endpoint_name=endpoint, request_file=str(request_file), deployment_name=name
            )
        return answer

    def probe(
        self, request: Mapping[str, Any], endpoint: str, name: str, progress: Progress
    ) -> None:
        """One scoring call to `name`, tried again when it failed on the way to the model."""
        retries = self.settings.probe_retries
        for attempt in range(retries + 1):
            try:
                self.invoke(request, endpoint, name)
                return
            except AzureError as exc:
                if attempt == retries or not is_transient(exc):
                    raise
                first_line = (azure_message(exc).splitlines() or [type(exc).__name__])[0]
                progress(
                    f"scoring {name} failed on the way ({first_line[:200]}): "
                    f"retry {attempt + 1} of {retries}"
                )
                self._sleep(self.settings.probe_retry_seconds)


def state_of(resource: Any) -> str:
    """`Succeeded`, `Creating`, ...: azure-ai-ml gives a string or an enum's name."""
    return str(resource.provisioning_state).rsplit(".", 1)[-1].capitalize()


def is_busy(resource: Any) -> bool:
    """Whether the resource's last operation still runs."""
    return state_of(resource) in _BUSY


def has_succeeded(resource: Any) -> bool:
    """Whether the resource exists and its last operation succeeded."""
    return resource is not None and state_of(resource) == "Succeeded"


def has_failed(resource: Any) -> bool:
    """Whether the resource's last operation failed."""
    return state_of(resource) == "Failed"
