"""Azure ML managed online endpoints as a deployment target, through azure-ai-ml's `MLClient`.

One endpoint per (model, environment) — the manifest's `deployment.endpoint` — and one
deployment per version (`bot.domain.azure_names.deployment_name`). Before anything paid
is created, the endpoint name, the smoke request, the model (for the no-code image) and
the quota are checked. A new version is provisioned beside the serving one,
smoke-tested through the endpoint, and given the traffic at once (blue-green) or by the
manifest's canary steps with a health check at each step; whatever goes wrong during a
step puts the previous split back before the error is raised. An endpoint or deployment
whose last operation still runs (Azure answers 409 to writes on it) is waited for first.
Deployments that lost their traffic are deleted once `retire_grace_seconds` have passed,
so a rollback inside that window only moves traffic back; the tag that dated their
retirement goes with them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from bot.azure.clients import build_credential, build_ml_client
from bot.azure.endpoints import OnlineEndpoints, has_failed, has_succeeded, is_busy, state_of
from bot.azure.errors import azure_message, is_taken_name
from bot.azure.preflight import PlannedDeployment, Preflight
from bot.azure.settings import AzureSettings
from bot.azure.tracking import WorkspaceTracking
from bot.domain.azure_names import deployment_name, endpoint_name_problem
from bot.domain.azure_traffic import RETIRED_TAG, canary_traffic, describe_traffic
from bot.domain.manifest import Deployment, ModelManifest, Strategy, TargetKind
from bot.domain.verification import HealthSample
from bot.errors import TargetError, UserInputError
from bot.targets.base import ApplyOutcome, Progress, ServingState

__all__ = ["AzureMLTarget", "canary_traffic", "deployment_name", "smoke_request_from_dir"]

SmokeRequest = Callable[[ModelManifest], Mapping[str, Any]]
"""Returns the scoring request body used to smoke-test and probe a new deployment."""

VERSION_TAG = "promobot.version"
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"


class _Unhealthy(Exception):
    """A canary step's health check failed; the message says how."""


def smoke_request_from_dir(folder: Path) -> SmokeRequest:
    """Read the request body for a model from `<folder>/<model>.json`."""

    def read(manifest: ModelManifest) -> Mapping[str, Any]:
        path = folder / f"{manifest.model}.json"
        if not path.is_file():
            raise TargetError(
                f"no smoke-test request for model {manifest.model}: {path} does not exist",
                hint='add a JSON scoring request (e.g. {"input_data": {...}}) at that path; '
                "nothing was created",
            )
        body: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return body

    return read


class AzureMLTarget:
    """Serves versions from Azure ML managed online endpoints; implements `Target`."""

    def __init__(
        self,
        settings: AzureSettings,
        *,
        ml_client: Any = None,
        credential: TokenCredential | None = None,
        smoke_request: SmokeRequest | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        credential = credential or build_credential(settings)
        self._ml = ml_client if ml_client is not None else build_ml_client(settings, credential)
        self._tracking = WorkspaceTracking(settings, credential, self._ml)
        self._preflight = Preflight(settings, self._ml, self._tracking)
        self._endpoints = OnlineEndpoints(self._ml, settings, sleep)
        folder = settings.smoke_requests_dir or Path("smoke-requests")
        self._smoke_request = smoke_request or smoke_request_from_dir(folder)
        self._sleep = sleep
        self._traffic: dict[str, int] | None = None
        """The endpoint's traffic as last read or set by the running apply."""

    def close(self) -> None:
        """Close the HTTP sessions this target opened."""
        self._tracking.close()

    # Target protocol -----------------------------------------------------------

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        """Make `manifest.version` serve all traffic of its endpoint, or raise `TargetError`."""
        spec = _azureml_deployment(manifest)
        problem = endpoint_name_problem(spec.endpoint)
        if problem:
            raise UserInputError(
                f"{manifest.path()}: deployment.endpoint: {problem}",
                hint="endpoint names are also unique across all Azure customers of a region: "
                "prefix them with your team or workspace, e.g. `contoso-churn-prod`",
            )
        name = deployment_name(manifest.version)
        request = self._smoke_request(manifest)
        self._traffic = None
        try:
            # azure-ai-ml prints polling dots on stdout, which promobot keeps for results.
            with contextlib.redirect_stdout(sys.stderr):
                changed = self._rollout(manifest, spec, name, request, progress)
                state = self.state(manifest.model, manifest.environment, spec)
        except AzureError as exc:
            raise self._refused(spec, exc) from exc
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
        deployments = self._endpoints.deployments(deployment.endpoint)
        versions = {n: _version_of(d) for n, d in deployments.items()}
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
        self,
        manifest: ModelManifest,
        spec: Deployment,
        name: str,
        request: Mapping[str, Any],
        progress: Progress,
    ) -> bool:
        """Bring `name` to 100% of the endpoint; False when it already had it."""
        endpoints = self._endpoints
        endpoint = endpoints.settled_endpoint(spec.endpoint, progress)
        deployments = self._settled_deployments(spec.endpoint, endpoint, name, progress)
        before = {k: v for k, v in ((endpoint.traffic if endpoint else None) or {}).items() if v}
        self._traffic = before
        if before.get(name) == 100 and has_succeeded(deployments.get(name)):
            self._sweep(spec.endpoint, deployments, before, progress)
            return False
        if has_succeeded(deployments.get(name)):
            progress(f"deployment {name} still exists: moving traffic back to it")
        else:
            plan = PlannedDeployment(
                endpoint=spec.endpoint,
                name=name,
                model=_model_name(manifest),
                version=manifest.version,
                instance_type=spec.instance_type or DEFAULT_INSTANCE_TYPE,
                instance_count=spec.instance_count,
                serving=spec.azureml,
            )
            self._preflight.check(plan, deployments, progress)
            if endpoint is None:
                progress(f"creating endpoint {spec.endpoint}")
                tags = {
                    "promobot.model": manifest.model,
                    "promobot.environment": manifest.environment,
                }
                endpoints.create_endpoint(spec.endpoint, tags)
            self._provision(manifest, plan, progress)
        self._smoke_test(request, spec.endpoint, name, before, progress)
        self._shift(request, spec, name, before, progress)
        self._sweep(spec.endpoint, endpoints.deployments(spec.endpoint), {name: 100}, progress)
        return True

    def _settled_deployments(
        self, endpoint_name: str, endpoint: Any, name: str, progress: Progress
    ) -> dict[str, Any]:
        """The endpoint's deployments, once `name`'s last operation (if any) has ended."""
        endpoints = self._endpoints
        deployments = endpoints.deployments(endpoint_name) if endpoint is not None else {}
        if name in deployments and is_busy(deployments[name]):
            current = endpoints.settled(
                lambda: endpoints.deployment(endpoint_name, name), f"deployment {name}", progress
            )
            deployments.pop(name)
            if current is not None:
                deployments[name] = current
        return deployments

    def _provision(
        self, manifest: ModelManifest, plan: PlannedDeployment, progress: Progress
    ) -> None:
        reference = model_reference(manifest)
        progress(f"provisioning deployment {plan.name} of {plan.endpoint} (model {reference})")
        tags = {VERSION_TAG: manifest.version, "promobot.model": manifest.model}
        size = (plan.instance_type, plan.instance_count)
        try:
            self._endpoints.create_deployment(
                plan.endpoint, plan.name, reference, size, tags, plan.serving
            )
        except HttpResponseError as exc:
            raise TargetError(
                f"deployment {plan.name} of endpoint {plan.endpoint} failed to provision: "
                f"{azure_message(exc)}",
                hint=(
                    "it received no traffic and what served keeps serving; read its logs with "
                    f"`az ml online-deployment get-logs -e {plan.endpoint} -n {plan.name}`"
                ),
            ) from exc

    def _smoke_test(
        self,
        request: Mapping[str, Any],
        endpoint: str,
        name: str,
        before: Mapping[str, int],
        progress: Progress,
    ) -> None:
        progress(f"smoke-testing deployment {name}")
        try:
            self._endpoints.probe(request, endpoint, name, progress)
        except AzureError as exc:
            serving = describe_traffic({k: v for k, v in before.items() if k != name})
            raise TargetError(
                f"deployment {name} failed its smoke test: {azure_message(exc)}",
                hint=f"it received no traffic ({serving} serves); check the model and the "
                "smoke-test request",
            ) from exc

    def _shift(
        self,
        request: Mapping[str, Any],
        spec: Deployment,
        name: str,
        before: Mapping[str, int],
        progress: Progress,
    ) -> None:
        old = {k: v for k, v in before.items() if k != name}
        steps: tuple[int, ...] = (100,)
        if spec.strategy is Strategy.CANARY and old:
            steps = tuple(s for s in spec.canary_steps if s > before.get(name, 0))
        share = steps[0]
        try:
            for share in steps:
                traffic = canary_traffic(old, name, share)
                progress(f"traffic of {spec.endpoint}: {describe_traffic(traffic)}")
                retired = set(old) if share == 100 else set()
                self._endpoints.set_traffic(spec.endpoint, traffic, retired, name, progress)
                self._traffic = {k: v for k, v in traffic.items() if v > 0}
                if share == 100:
                    return
                self._sleep(spec.step_pause_seconds)
                self._check_health(request, spec.endpoint, name, progress)
        except BaseException as exc:
            restore = {k: v for k, v in canary_traffic(old, name, 0).items() if k != name and v}
            serving = self._restore(spec.endpoint, restore, progress)
            if not isinstance(exc, Exception):
                raise
            reason = str(exc) if isinstance(exc, _Unhealthy | TargetError) else _reason(exc)
            raise TargetError(
                f"rollout of deployment {name} stopped at {share}%: {reason}; {serving}",
                hint="look at the deployment's logs and metrics, then apply again",
            ) from exc

    def _restore(self, endpoint: str, traffic: Mapping[str, int], progress: Progress) -> str:
        """Put `traffic` back; returns what serves afterwards, in words."""
        try:
            self._endpoints.set_traffic(endpoint, traffic, set(), None, progress)
        except Exception as exc:  # the rollout's own error is what gets raised
            progress(f"cannot put the traffic of {endpoint} back: {_reason(exc)}")
        try:
            now = dict(self._ml.online_endpoints.get(endpoint).traffic or {})
        except Exception as exc:  # the message must still be raised
            return f"what serves {endpoint} is unknown ({_reason(exc)})"
        served = {k: v for k, v in now.items() if v > 0}
        text = describe_traffic(served) if served else "nothing"
        return f"traffic is back on {text}" if served == dict(traffic) else f"{text} serves"

    def _check_health(
        self, request: Mapping[str, Any], endpoint: str, name: str, progress: Progress
    ) -> None:
        deployment = self._ml.online_deployments.get(name=name, endpoint_name=endpoint)
        if not has_succeeded(deployment):
            raise _Unhealthy(f"deployment {name} is {state_of(deployment)}")
        for _ in range(self.settings.health_probes):
            try:
                self._endpoints.probe(request, endpoint, name, progress)
            except AzureError as exc:
                raise _Unhealthy(f"a health probe failed: {azure_message(exc)}") from exc

    def _sweep(
        self,
        endpoint_name: str,
        deployments: Mapping[str, Any],
        traffic: Mapping[str, int],
        progress: Progress,
    ) -> None:
        """Delete, among deployments without traffic, those whose grace period has passed and
        promobot's own that failed to provision (kept until now for their logs); then drop
        the retirement tags of deployments that are gone."""
        tags = dict(self._ml.online_endpoints.get(endpoint_name).tags or {})
        grace = dt.timedelta(seconds=self.settings.retire_grace_seconds)
        now = dt.datetime.now(dt.UTC)
        remaining = set(deployments)
        for name, deployment in deployments.items():
            if traffic.get(name, 0) > 0:
                continue
            stamp = tags.get(RETIRED_TAG + name)
            if stamp is not None and now - dt.datetime.fromisoformat(stamp) >= grace:
                reason = f"without traffic since {stamp}"
            elif has_failed(deployment) and VERSION_TAG in (deployment.tags or {}):
                reason = "its provisioning failed"
            else:
                continue
            progress(f"deleting deployment {name}: {reason}")
            self._endpoints.delete_deployment(endpoint_name, name)
            remaining.discard(name)
        stale = [
            t for t in tags if t.startswith(RETIRED_TAG) and t[len(RETIRED_TAG) :] not in remaining
        ]
        if stale:
            progress(f"removing {len(stale)} retirement tag(s) of deleted deployments")
            self._endpoints.remove_tags(endpoint_name, set(stale))

    def _refused(self, spec: Deployment, exc: AzureError) -> TargetError:
        if is_taken_name(exc):
            return TargetError(
                f"endpoint name {spec.endpoint} is taken: {azure_message(exc)}",
                hint="endpoint names are unique across all Azure customers of a region: set "
                "`deployment.endpoint` to another name, e.g. prefixed with your team or "
                "workspace; nothing was created",
            )
        return TargetError(
            f"Azure ML refused an operation on endpoint {spec.endpoint}: {azure_message(exc)}",
            hint=f"{self._serving_now(spec.endpoint)}; fix the cause and apply again",
        )

    def _serving_now(self, endpoint: str) -> str:
        if self._traffic is None:
            return f"what serves {endpoint} was not read"
        if not self._traffic:
            return f"nothing serves on {endpoint}"
        return f"{describe_traffic(self._traffic)} serves"


def model_reference(manifest: ModelManifest) -> str:
    """The workspace model the deployment runs: the manifest's `azureml:` URI, or name:version."""
    uri = manifest.source.uri
    if uri.startswith("azureml:"):
        return uri
    return f"azureml:{manifest.model}:{manifest.version}"


def _model_name(manifest: ModelManifest) -> str:
    parts = model_reference(manifest).split(":")
    return parts[1] if len(parts) == 3 else manifest.model


def _azureml_deployment(manifest: ModelManifest) -> Deployment:
    spec = manifest.deployment
    if spec.target is not TargetKind.AZUREML:
        raise TargetError(
            f"{manifest.path()} deploys to {spec.target.value}, not azureml",
            hint="set `deployment.target: azureml` or use the matching target",
        )
    return spec


def _version_of(deployment: Any) -> str:
    return str((deployment.tags or {}).get(VERSION_TAG) or deployment.name)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AzureError):
        return azure_message(exc)
    return f"{type(exc).__name__}: {exc}"
