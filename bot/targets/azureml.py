"""Azure ML managed online endpoints as a deployment target, through azure-ai-ml's `MLClient`.

One endpoint per (model, environment) — the manifest's `deployment.endpoint` — and one
deployment per version, named `v-<version>`. A new version is provisioned beside the
serving one, smoke-tested through the endpoint, and given the traffic at once
(blue-green) or by the manifest's canary steps with a health check at each step.
Deployments that lost their traffic are deleted once `retire_grace_seconds` have
passed, so a rollback inside that window only moves traffic back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from bot.azure.clients import azure_ai_ml, build_ml_client
from bot.azure.settings import AzureSettings
from bot.domain.manifest import Deployment, ModelManifest, Strategy, TargetKind
from bot.domain.verification import HealthSample
from bot.errors import TargetError
from bot.targets.base import ApplyOutcome, Progress, ServingState

SmokeRequest = Callable[[ModelManifest], Mapping[str, Any]]
"""Returns the scoring request body used to smoke-test and probe a new deployment."""

VERSION_TAG = "promobot.version"
RETIRED_TAG = "promobot.retired."
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"


def deployment_name(version: str) -> str:
    """`v-<version>`, within Azure's rules (3-32 characters: letters, digits, '-')."""
    slug = re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")
    if slug == version:
        return f"v-{slug}"[:32]
    digest = hashlib.sha256(version.encode()).hexdigest()[:6]
    return f"v-{slug[:22]}-{digest}".replace("--", "-")


def canary_traffic(old: Mapping[str, int], new: str, share: int) -> dict[str, int]:
    """`share`% to `new`, the rest split among the old deployments as they were split."""
    rest = 100 - share
    others = {k: v for k, v in old.items() if k != new and v > 0}
    total = sum(others.values())
    if not others or total == 0:
        return {new: 100}
    exact = {k: rest * v / total for k, v in others.items()}
    shares = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True):
        if sum(shares.values()) == rest:
            break
        shares[k] += 1
    return {new: share, **{k: v for k, v in shares.items() if v > 0}}


def smoke_request_from_dir(folder: Path) -> SmokeRequest:
    """Read the request body for a model from `<folder>/<model>.json`."""

    def read(manifest: ModelManifest) -> Mapping[str, Any]:
        path = folder / f"{manifest.model}.json"
        if not path.is_file():
            raise TargetError(
                f"no smoke-test request for model {manifest.model}: {path} does not exist",
                hint='add a JSON scoring request (e.g. {"input_data": {...}}) at that path',
            )
        body: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return body

    return read


def azure_message(exc: AzureError) -> str:
    """Azure's own error text: `Code: message` when the body carried one."""
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "message", None):
        return f"{error.code}: {error.message}" if error.code else str(error.message)
    return str(getattr(exc, "message", None) or exc)


class AzureMLTarget:
    """Serves versions from Azure ML managed online endpoints; implements `Target`."""

    def __init__(
        self,
        settings: AzureSettings,
        *,
        ml_client: Any = None,
        smoke_request: SmokeRequest | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._ml = ml_client if ml_client is not None else build_ml_client(settings)
        folder = settings.smoke_requests_dir or Path("smoke-requests")
        self._smoke_request = smoke_request or smoke_request_from_dir(folder)
        self._sleep = sleep

    # Target protocol -----------------------------------------------------------

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        """Make `manifest.version` serve all traffic of its endpoint, or raise `TargetError`."""
        spec = _azureml_deployment(manifest)
        name = deployment_name(manifest.version)
        try:
            # azure-ai-ml prints polling dots on stdout, which promobot keeps for results.
            with contextlib.redirect_stdout(sys.stderr):
                changed = self._rollout(manifest, spec, name, progress)
                state = self.state(manifest.model, manifest.environment, spec)
        except AzureError as exc:
            raise TargetError(
                f"Azure ML refused an operation on endpoint {spec.endpoint}: {azure_message(exc)}",
                hint="the serving deployment keeps its traffic; fix the cause and apply again",
            ) from exc
        if changed:
            detail = f"version {manifest.version} serves all traffic of {spec.endpoint} ({name})"
        else:
            detail = f"version {manifest.version} already serves all traffic of {spec.endpoint}"
        progress(detail)
        return ApplyOutcome(changed=changed, state=state, detail=detail)

    def state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        """Versions and their traffic shares on the endpoint; empty when it does not exist."""
        try:
            endpoint = self._ml.online_endpoints.get(deployment.endpoint)
        except ResourceNotFoundError:
            return ServingState(model=model, environment=environment, endpoint=deployment.endpoint)
        except AzureError as exc:
            raise TargetError(
                f"cannot read endpoint {deployment.endpoint}: {azure_message(exc)}"
            ) from exc
        versions = {n: _version_of(d) for n, d in self._deployments(deployment.endpoint).items()}
        traffic = {
            versions.get(name, name): share
            for name, share in (endpoint.traffic or {}).items()
            if share > 0
        }
        return ServingState(
            model=model, environment=environment, endpoint=deployment.endpoint, traffic=traffic
        )

    def health(self, model: str, environment: str, deployment: Deployment) -> list[HealthSample]:
        """Not available: Azure ML reports request metrics to Azure Monitor, not azure-ai-ml."""
        del model, environment, deployment
        return []

    # Steps -----------------------------------------------------------------------

    def _rollout(
        self, manifest: ModelManifest, spec: Deployment, name: str, progress: Progress
    ) -> bool:
        """Bring `name` to 100% of the endpoint; False when it already had it."""
        endpoint = self._ensure_endpoint(manifest, progress)
        deployments = self._deployments(spec.endpoint)
        before = {k: v for k, v in (endpoint.traffic or {}).items() if v > 0}
        if before.get(name) == 100 and _succeeded(deployments.get(name)):
            self._sweep(spec.endpoint, deployments, before, progress)
            return False
        if _succeeded(deployments.get(name)):
            progress(f"deployment {name} still exists: moving traffic back to it")
        else:
            self._provision(manifest, spec, name, progress)
        self._smoke_test(manifest, spec.endpoint, name, progress)
        self._shift(manifest, spec, name, before, progress)
        self._sweep(spec.endpoint, self._deployments(spec.endpoint), {name: 100}, progress)
        return True

    def _ensure_endpoint(self, manifest: ModelManifest, progress: Progress) -> Any:
        name = manifest.deployment.endpoint
        try:
            return self._ml.online_endpoints.get(name)
        except ResourceNotFoundError:
            progress(f"creating endpoint {name}")
        endpoint = azure_ai_ml().entities.ManagedOnlineEndpoint(
            name=name,
            auth_mode="key",
            tags={"promobot.model": manifest.model, "promobot.environment": manifest.environment},
        )
        self._wait(self._ml.online_endpoints.begin_create_or_update(endpoint), f"endpoint {name}")
        return self._ml.online_endpoints.get(name)

    def _deployments(self, endpoint: str) -> dict[str, Any]:
        return {d.name: d for d in self._ml.online_deployments.list(endpoint_name=endpoint)}

    def _provision(
        self, manifest: ModelManifest, spec: Deployment, name: str, progress: Progress
    ) -> None:
        progress(
            f"provisioning deployment {name} of {spec.endpoint} (model {model_reference(manifest)})"
        )
        deployment = azure_ai_ml().entities.ManagedOnlineDeployment(
            name=name,
            endpoint_name=spec.endpoint,
            model=model_reference(manifest),
            instance_type=spec.instance_type or DEFAULT_INSTANCE_TYPE,
            instance_count=spec.instance_count,
            tags={VERSION_TAG: manifest.version, "promobot.model": manifest.model},
        )
        poller = self._ml.online_deployments.begin_create_or_update(deployment)
        try:
            self._wait(poller, f"deployment {name}")
        except HttpResponseError as exc:
            raise TargetError(
                f"deployment {name} of endpoint {spec.endpoint} failed to provision: "
                f"{azure_message(exc)}",
                hint=(
                    "it received no traffic and what served keeps serving; read its logs with "
                    f"`az ml online-deployment get-logs -e {spec.endpoint} -n {name}`"
                ),
            ) from exc

    def _wait(self, poller: Any, what: str) -> Any:
        timeout = self.settings.operation_timeout_seconds
        poller.wait(timeout=timeout)
        if not poller.done():
            raise TargetError(
                f"{what} did not finish within {timeout:g} s",
                hint="raise PROMOBOT_AZURE_OPERATION_TIMEOUT_SECONDS, or follow the operation in "
                "the portal",
            )
        return poller.result()

    def _invoke(self, manifest: ModelManifest, endpoint: str, name: str) -> str:
        body = self._smoke_request(manifest)
        with tempfile.TemporaryDirectory(prefix="promobot-smoke-") as tmp:
            request_file = Path(tmp) / "request.json"
            request_file.write_text(json.dumps(body), encoding="utf-8")
            answer: str = self._ml.online_endpoints.invoke(
                endpoint_name=endpoint, request_file=str(request_file), deployment_name=name
            )
        return answer

    def _smoke_test(
        self, manifest: ModelManifest, endpoint: str, name: str, progress: Progress
    ) -> None:
        progress(f"smoke-testing deployment {name}")
        try:
            self._invoke(manifest, endpoint, name)
        except HttpResponseError as exc:
            raise TargetError(
                f"deployment {name} failed its smoke test: {azure_message(exc)}",
                hint="it received no traffic; check the model and the smoke-test request",
            ) from exc

    def _shift(
        self,
        manifest: ModelManifest,
        spec: Deployment,
        name: str,
        before: Mapping[str, int],
        progress: Progress,
    ) -> None:
        old = {k: v for k, v in before.items() if k != name}
        steps: tuple[int, ...] = (100,)
        if spec.strategy is Strategy.CANARY and old:
            steps = tuple(s for s in spec.canary_steps if s > before.get(name, 0))
        for share in steps:
            traffic = canary_traffic(old, name, share)
            progress(f"traffic of {spec.endpoint}: {_describe(traffic)}")
            retired = {k for k in before if k != name} if share == 100 else set()
            self._set_traffic(spec.endpoint, traffic, retired, name)
            if share == 100:
                return
            self._sleep(spec.step_pause_seconds)
            if not self._is_healthy(manifest, spec.endpoint, name, progress):
                restore = {k: v for k, v in canary_traffic(old, name, 0).items() if v > 0}
                self._set_traffic(spec.endpoint, restore, set(), None)
                raise TargetError(
                    f"canary of deployment {name} failed its health check at {share}%: "
                    f"traffic is back on {_describe(restore)}",
                    hint="look at the deployment's logs and metrics, then apply again",
                )

    def _is_healthy(
        self, manifest: ModelManifest, endpoint: str, name: str, progress: Progress
    ) -> bool:
        deployment = self._ml.online_deployments.get(name=name, endpoint_name=endpoint)
        if not _succeeded(deployment):
            progress(f"deployment {name} is {deployment.provisioning_state}")
            return False
        for _ in range(self.settings.health_probes):
            try:
                self._invoke(manifest, endpoint, name)
            except HttpResponseError as exc:
                progress(f"deployment {name} failed a health probe: {azure_message(exc)}")
                return False
        return True

    def _set_traffic(
        self, endpoint_name: str, traffic: Mapping[str, int], retired: set[str], serving: str | None
    ) -> None:
        endpoint = self._ml.online_endpoints.get(endpoint_name)
        endpoint.traffic = dict(traffic)
        tags = dict(endpoint.tags or {})
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        tags.update({RETIRED_TAG + name: now for name in retired})
        if serving is not None:
            tags.pop(RETIRED_TAG + serving, None)
        endpoint.tags = tags
        self._wait(
            self._ml.online_endpoints.begin_create_or_update(endpoint), f"endpoint {endpoint_name}"
        )

    def _sweep(
        self,
        endpoint_name: str,
        deployments: Mapping[str, Any],
        traffic: Mapping[str, int],
        progress: Progress,
    ) -> None:
        """Delete, among deployments without traffic, those whose grace period has passed and
        promobot's own that failed to provision (kept until now for their logs)."""
        tags = dict(self._ml.online_endpoints.get(endpoint_name).tags or {})
        grace = dt.timedelta(seconds=self.settings.retire_grace_seconds)
        now = dt.datetime.now(dt.UTC)
        for name, deployment in deployments.items():
            if traffic.get(name, 0) > 0:
                continue
            stamp = tags.get(RETIRED_TAG + name)
            if stamp is not None and now - dt.datetime.fromisoformat(stamp) >= grace:
                reason = f"without traffic since {stamp}"
            elif _failed(deployment) and VERSION_TAG in (deployment.tags or {}):
                reason = "its provisioning failed"
            else:
                continue
            progress(f"deleting deployment {name}: {reason}")
            poller = self._ml.online_deployments.begin_delete(
                name=name, endpoint_name=endpoint_name
            )
            self._wait(poller, f"deletion of deployment {name}")


def model_reference(manifest: ModelManifest) -> str:
    """The workspace model the deployment runs: the manifest's `azureml:` URI, or name:version."""
    uri = manifest.source.uri
    if uri.startswith("azureml:"):
        return uri
    return f"azureml:{manifest.model}:{manifest.version}"


def _azureml_deployment(manifest: ModelManifest) -> Deployment:
    spec = manifest.deployment
    if spec.target is not TargetKind.AZUREML:
        raise TargetError(
            f"{manifest.path()} deploys to {spec.target.value}, not azureml",
            hint="set `deployment.target: azureml` or use the matching target",
        )
    return spec


def _succeeded(deployment: Any) -> bool:
    return deployment is not None and str(deployment.provisioning_state).lower().endswith(
        "succeeded"
    )


def _failed(deployment: Any) -> bool:
    return str(deployment.provisioning_state).lower().endswith("failed")


def _version_of(deployment: Any) -> str:
    return str((deployment.tags or {}).get(VERSION_TAG) or deployment.name)


def _describe(traffic: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {share}%" for name, share in traffic.items())
