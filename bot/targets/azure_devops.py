"""An Azure DevOps pipeline as the deployment target, through the azure-devops SDK.

promobot does not deploy itself here: it runs the team's pipeline with the template
parameters `model`, `version` and `environment`, waits for the run to complete and
reports its result. What serves is the version of the latest succeeded run for that
(model, environment), read back from the pipeline's runs.

Runs - List answers without `templateParameters`, for a limited window, in no
documented order (https://learn.microsoft.com/rest/api/azure/devops/pipelines/runs/list,
https://github.com/MicrosoftDocs/vsts-rest-api-specs/issues/579): runs are ordered by
id, which Azure DevOps hands out in increasing order, and each is read once with Runs -
Get, whose answer for a completed run never changes. Only the newest `RUNS_SCANNED` are
read: when none of them succeeded for (model, environment) and older ones were left
unread, an older run (unread, or gone from the list) may have deployed what serves, so
`state` says it cannot tell rather than that nothing serves, and `apply` runs the pipeline
again. Inside a run of the same pipeline (`SYSTEM_DEFINITIONID`), the run promobot started
for this very manifest is the deployment: `apply` counts it instead of waiting for itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from urllib3.util.retry import Retry

from bot.azure.settings import AzureDevOpsSettings
from bot.domain.manifest import Deployment, ModelManifest, TargetKind
from bot.domain.verification import HealthSample
from bot.errors import TargetError
from bot.targets.base import ApplyOutcome, Progress, ServingState

RUNS_SCANNED = 50
"""How many of a pipeline's newest runs `state` and `apply` read to find what serves."""


class _PipelineRetry(Retry):
    """Retries 408/429/5xx honouring `Retry-After`; a POST only on 429 and 503.

    Starting a run is not idempotent: a 500 may come after the run was queued, so
    only answers that say the request was refused are retried for POST.
    """

    BACKOFF_MAX = 60.0  # msrest logs this urllib3 1.x attribute when it configures a session

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return status_code in (429, 503) and bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)


def retry_policy(max_retries: int) -> Retry:
    """The urllib3 retry used by the SDK's HTTP session."""
    return _PipelineRetry(
        total=max_retries,
        connect=max_retries,
        read=0,
        status=max_retries,
        backoff_factor=0.8,
        backoff_max=_PipelineRetry.BACKOFF_MAX,
        status_forcelist=(408, 429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "OPTIONS", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def build_pipelines_client(settings: AzureDevOpsSettings) -> Any:
    """The SDK's Pipelines client for the organization, with bounded retries."""
    from azure.devops.connection import Connection  # noqa: PLC0415 (slow import)
    from msrest.authentication import BasicAuthentication  # noqa: PLC0415

    credentials = BasicAuthentication("", settings.token.get_secret_value())
    connection = Connection(base_url=settings.organization_url, creds=credentials)
    client = connection.clients_v7_1.get_pipelines_client()
    client.config.retry_policy.policy = retry_policy(settings.max_retries)
    client.config.session_configuration_callback = _apply_retry_policy
    return client


def _apply_retry_policy(
    session: Any, global_config: Any, local_config: Any, **requests_kwargs: Any
) -> dict[str, Any]:
    """msrest's per-request session hook: make the session use the configured retry.

    msrest builds its `requests` session (and its adapters' retries) when the client
    is created, before a caller can change `config.retry_policy`.
    """
    del local_config
    retry = global_config.retry_policy()
    for adapter in session.adapters.values():
        adapter.max_retries = retry
    return requests_kwargs


class AzureDevOpsTarget:
    """Deploys by running an Azure DevOps pipeline; implements `Target`."""

    def __init__(
        self,
        settings: AzureDevOpsSettings,
        *,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._client = client if client is not None else build_pipelines_client(settings)
        self._sleep = sleep
        self._clock = clock
        self._environ = os.environ if environ is None else environ
        self._completed: dict[int, Any] = {}

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        """Run the pipeline for `manifest.version` unless its latest succeeded run deployed it."""
        pipeline_id = _pipeline_id(manifest)
        if self._environ.get("SYSTEM_DEFINITIONID") == str(pipeline_id):
            return self._this_run(manifest, pipeline_id, progress)
        m, e, endpoint = manifest.model, manifest.environment, manifest.deployment.endpoint
        # One listing decides both questions, so a run ending in between cannot start another.
        runs, unread = self._recent_runs(pipeline_id, m, e)
        if _deployed_version(runs) == manifest.version:
            detail = f"version {manifest.version} already deployed by pipeline {pipeline_id}"
            progress(detail)
            return ApplyOutcome(changed=False, state=_serving(m, e, endpoint, runs), detail=detail)
        if unread and _deployed_version(runs) is None:
            progress(
                f"no succeeded run of pipeline {pipeline_id} for {m} in {e} among its newest "
                f"{RUNS_SCANNED}; what an older one deployed is unknown, so version "
                f"{manifest.version} is deployed"
            )
        running = _running(runs, manifest.version)
        run = running or self._start(manifest, pipeline_id, progress)
        run = self._wait(run, pipeline_id, progress)
        link = self._web_link(run)
        if run.result != "succeeded":
            raise TargetError(
                f"Azure DevOps run {run.name} of pipeline {pipeline_id} ended {run.result} "
                f"deploying {manifest.model} {manifest.version} to {manifest.environment}: {link}",
                hint="open the run's logs; the previously deployed version was left as it was",
            )
        detail = (
            f"pipeline {pipeline_id} run {run.name} deployed version {manifest.version}: {link}"
        )
        progress(detail)
        return ApplyOutcome(changed=True, state=_serving(m, e, endpoint, [run]), detail=detail)

    def state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        """The version of the latest succeeded run for this model and environment;
        `TargetError` when that run may be older than the runs read."""
        runs: list[Any] = []
        unread = 0
        if deployment.pipeline_id is not None:
            runs, unread = self._recent_runs(deployment.pipeline_id, model, environment)
        if unread and _deployed_version(runs) is None:
            raise TargetError(
                f"cannot tell what pipeline {deployment.pipeline_id} deployed for {model} in "
                f"{environment}: none of the newest {RUNS_SCANNED} of the "
                f"{RUNS_SCANNED + unread} runs Runs - List returns succeeded for it; an older "
                "run, unread or no longer listed, may have deployed what serves",
                hint="apply the manifest: its run becomes the newest, and what serves is known "
                "again",
            )
        return _serving(model, environment, deployment.endpoint, runs)

    def health(self, model: str, environment: str, deployment: Deployment) -> list[HealthSample]:
        """Not available: the pipeline deploys somewhere promobot does not observe."""
        del model, environment, deployment
        return []

    def _this_run(
        self, manifest: ModelManifest, pipeline_id: int, progress: Progress
    ) -> ApplyOutcome:
        """Inside a run of `pipeline_id`: the run is the deployment when promobot started it
        for this manifest; anything else would wait for itself."""
        build_id = self._environ.get("BUILD_BUILDID", "")
        run = None
        if build_id.isdigit():
            run = self._call(
                self._client.get_run, self.settings.project, pipeline_id, int(build_id)
            )
        if run is None or not _deploys(run, manifest):
            raise TargetError(
                f"{manifest.path()} deploys through pipeline {pipeline_id}, which is the "
                "pipeline running this apply, in a run not started for this manifest: it would "
                "wait for itself",
                hint="let promobot start the pipeline for it (the service or the GitHub "
                "workflow applies `azure-devops` manifests); a run it starts passes model, "
                "version and environment, and `promobot apply --model … --environment … "
                "--version …` inside it counts the run as the deployment",
            )
        m, e = manifest.model, manifest.environment
        detail = (
            f"this run ({run.name}) of pipeline {pipeline_id} deploys version "
            f"{manifest.version}: {self._web_link(run)}"
        )
        progress(detail)
        state = _serving(m, e, manifest.deployment.endpoint, [], manifest.version)
        return ApplyOutcome(changed=True, state=state, detail=detail)

    def _recent_runs(self, pipeline_id: int, model: str, environment: str) -> tuple[list[Any], int]:
        """Runs for (model, environment), newest first, with their template parameters,
        among the newest `RUNS_SCANNED`; and how many older listed runs were not read."""
        listed = self._call(self._client.list_runs, self.settings.project, pipeline_id)
        newest = sorted(listed, key=lambda r: int(r.id), reverse=True)[:RUNS_SCANNED]
        matching = []
        for summary in newest:
            run = self._completed.get(int(summary.id))
            if run is None:
                run = self._call(
                    self._client.get_run, self.settings.project, pipeline_id, summary.id
                )
                if run.state == "completed":
                    self._completed[int(run.id)] = run
            params = run.template_parameters or {}
            if params.get("model") == model and params.get("environment") == environment:
                matching.append(run)
        return matching, len(listed) - len(newest)

    def _start(self, manifest: ModelManifest, pipeline_id: int, progress: Progress) -> Any:
        from azure.devops.v7_1.pipelines.models import RunPipelineParameters  # noqa: PLC0415

        parameters = RunPipelineParameters(
            template_parameters={
                "model": manifest.model,
                "version": manifest.version,
                "environment": manifest.environment,
            }
        )
        run = self._call(self._client.run_pipeline, parameters, self.settings.project, pipeline_id)
        progress(f"started run {run.name} of pipeline {pipeline_id}: {self._web_link(run)}")
        return run

    def _wait(self, run: Any, pipeline_id: int, progress: Progress) -> Any:
        deadline = self._clock() + self.settings.timeout_seconds
        while run.state != "completed":
            if self._clock() > deadline:
                raise TargetError(
                    f"run {run.name} of pipeline {pipeline_id} did not complete within "
                    f"{self.settings.timeout_seconds:g} s: {self._web_link(run)}",
                    hint="the run goes on in Azure DevOps; apply again to wait for it",
                )
            self._sleep(self.settings.poll_interval_seconds)
            run = self._call(self._client.get_run, self.settings.project, pipeline_id, run.id)
            progress(f"run {run.name}: {run.state}")
        return run

    def _web_link(self, run: Any) -> str:
        """The run's page (the SDK drops `_links` from what it parses)."""
        base = self.settings.organization_url.rstrip("/")
        return f"{base}/{quote(self.settings.project)}/_build/results?buildId={run.id}"

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        from msrest.exceptions import ClientException  # noqa: PLC0415

        try:
            return method(*args)
        except ClientException as exc:
            raise TargetError(
                f"Azure DevOps refused a call to project {self.settings.project}: {exc}",
                hint="check the organization URL, the project, the pipeline id and the token",
            ) from exc


def _pipeline_id(manifest: ModelManifest) -> int:
    spec = manifest.deployment
    if spec.target is not TargetKind.AZURE_DEVOPS:
        raise TargetError(
            f"{manifest.path()} deploys to {spec.target.value}, not azure-devops",
            hint="set `deployment.target: azure-devops` or use the matching target",
        )
    if spec.pipeline_id is None:
        raise TargetError(
            f"{manifest.path()}: deployment.pipeline_id is missing",
            hint="set `deployment.pipeline_id` to the id of the pipeline that deploys the model",
        )
    return spec.pipeline_id


def _deploys(run: Any, manifest: ModelManifest) -> bool:
    """Whether promobot started `run` for this manifest's model, version and environment."""
    params = run.template_parameters or {}
    wanted = {
        "model": manifest.model,
        "version": manifest.version,
        "environment": manifest.environment,
    }
    return all(str(params.get(key)) == value for key, value in wanted.items())


def _deployed_version(runs: list[Any]) -> str | None:
    """The version of the newest succeeded run (runs are newest first)."""
    for run in runs:
        if run.state == "completed" and run.result == "succeeded":
            return str((run.template_parameters or {}).get("version"))
    return None


def _running(runs: list[Any], version: str) -> Any:
    """A run still deploying `version` (an interrupted apply), to wait for."""
    for run in runs:
        if run.state != "completed" and (run.template_parameters or {}).get("version") == version:
            return run
    return None


def _serving(
    model: str, environment: str, endpoint: str, runs: list[Any], version: str | None = None
) -> ServingState:
    version = version or _deployed_version(runs)
    return ServingState(
        model=model,
        environment=environment,
        endpoint=endpoint,
        traffic={version: 100} if version else {},
    )
