"""The `local` target: the scoring server of `promobot serve-models`, driven over HTTP.

Blue/green loads the new version beside the serving one, smoke-tests it and
moves all traffic in one call. Canary moves traffic by the manifest's steps and
checks the new version's error rate after each pause; a failed step gives all
traffic back to what served before. Rollback is applying an older manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, assert_never

import httpx
from pydantic import BaseModel, ConfigDict, Field

from bot.domain.manifest import Deployment, ModelManifest, Strategy, TargetKind
from bot.domain.verification import HealthSample
from bot.errors import TargetError
from bot.serving.api import LoadRequest, ModelView, TrafficRequest, VersionView
from bot.serving.routing import split_traffic
from bot.targets.base import ApplyOutcome, Progress, ServingState

_EVIDENCE_POLL_SECONDS = 0.1

_START_HINT = (
    "start the scoring server with `promobot serve-models --port PORT --state DIR` and give "
    "its URL to the local target"
)


class CanaryCheck(BaseModel):
    """When a canary step counts as unhealthy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_error_rate: float = Field(
        default=0.01, ge=0, le=1, description="Highest share of failed requests of the new version."
    )
    min_requests: int = Field(
        default=1,
        ge=1,
        description="Requests the new version must see in a step before its error rate is judged.",
    )
    max_p99_latency_ms: float | None = Field(
        default=None, gt=0, description="Highest p99 latency of the new version, when set."
    )
    evidence_wait_seconds: float = Field(
        default=0.0,
        ge=0,
        description="After the pause, how long to keep waiting for `min_requests` before "
        "judging what arrived (quiet endpoints otherwise pass a step unjudged).",
    )


def judge_step(
    before: VersionView | None, after: VersionView, check: CanaryCheck
) -> tuple[str | None, str]:
    """(why the step failed or None, what was observed) from the counters around one step."""
    requests = after.requests - (before.requests if before else 0)
    errors = after.errors - (before.errors if before else 0)
    observed = f"{requests} request(s), {errors} error(s)"
    if requests < check.min_requests:
        return None, f"{observed}: too few to judge (min_requests={check.min_requests})"
    rate = errors / requests
    if rate > check.max_error_rate:
        return f"{observed}, an error rate of {rate:.1%} above {check.max_error_rate:.1%}", observed
    p99 = after.p99_latency_ms
    if check.max_p99_latency_ms is not None and p99 is not None and p99 > check.max_p99_latency_ms:
        limit = check.max_p99_latency_ms
        return f"{observed}, a p99 latency of {p99:.1f} ms above {limit:.1f} ms", observed
    return None, observed


class LocalTarget:
    """Implements `bot.targets.base.Target` against a `promobot serve-models` server."""

    def __init__(
        self,
        base_url: str,
        tracking_uri: str | None = None,
        *,
        check: CanaryCheck | None = None,
        keep_previous: bool = True,
        timeout: float = 30.0,
        load_timeout: float = 600.0,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        """`tracking_uri` resolves `models:/` URIs on the server's side (its own when None).

        `keep_previous` leaves the version that served before loaded (idle), so a
        rollback to it switches at once; older idle versions are unloaded.
        """
        self.base_url = base_url.rstrip("/")
        self.tracking_uri = tracking_uri
        self.check = check or CanaryCheck()
        self.keep_previous = keep_previous
        self._load_timeout = load_timeout
        self._pause = pause
        self._client = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=httpx.HTTPTransport(retries=2)
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # ----- the Target protocol -------------------------------------------------------------

    def apply(self, manifest: ModelManifest, progress: Progress) -> ApplyOutcome:
        """Make `manifest.version` serve all traffic, by blue/green or canary."""
        deployment = manifest.deployment
        _require_local(deployment)
        model, environment, version = manifest.model, manifest.environment, manifest.version
        current = self._view(model, environment)
        previous = {v: s for v, s in (current.traffic if current else {}).items() if v != version}
        if current is not None and current.traffic == {version: 100}:
            state = _state(model, environment, deployment, current)
            detail = (
                f"{model} {version} already serves all of {deployment.endpoint} ({environment})"
            )
            return ApplyOutcome(changed=False, state=state, detail=detail)
        self._load(manifest, progress)
        match deployment.strategy:
            case Strategy.BLUE_GREEN:
                how = self._switch(manifest, previous, progress)
            case Strategy.CANARY:
                # A first deployment has nothing to fall back to: no canary, just serve it.
                first = not previous
                how = (
                    self._switch(manifest, previous, progress)
                    if first
                    else self._canary(manifest, previous, progress)
                )
            case unreachable:
                assert_never(unreachable)
        self._retire(model, environment, version, previous, progress)
        after = self._view(model, environment)
        state = _state(model, environment, deployment, after)
        was = _shares(previous) if previous else "nothing (first deployment)"
        detail = f"{how}: {model} {version} serves {deployment.endpoint} ({environment}), was {was}"
        return ApplyOutcome(changed=True, state=state, detail=detail)

    def state(self, model: str, environment: str, deployment: Deployment) -> ServingState:
        """Versions receiving traffic now."""
        return _state(model, environment, deployment, self._view(model, environment))

    def health(self, model: str, environment: str, deployment: Deployment) -> list[HealthSample]:
        """Requests, errors and p99 latency of every serving version since it was loaded."""
        del deployment
        view = self._view(model, environment)
        if view is None:
            return []
        return [
            HealthSample(
                version=v.version,
                requests=v.requests,
                errors=v.errors,
                p99_latency_ms=v.p99_latency_ms,
            )
            for v in view.versions
            if v.traffic > 0
        ]

    # ----- strategies --------------------------------------------------------------------------

    def _load(self, manifest: ModelManifest, progress: Progress) -> None:
        uri = manifest.source.uri
        progress(f"loading {manifest.model} {manifest.version} from {uri} on {self.base_url}")
        body = LoadRequest(uri=uri, tracking_uri=self.tracking_uri)
        response = self._call(
            "PUT",
            f"/v1/admin/models/{manifest.model}/versions/{manifest.version}",
            manifest.environment,
            body=body.model_dump(),
            timeout=self._load_timeout,
        )
        loaded = VersionView.model_validate(response.json())
        if loaded.smoke is not None:
            smoke = loaded.smoke
            progress(f"smoke test passed on {smoke.rows} row(s) from its {smoke.source}")
        else:
            progress(f"{manifest.version} was already loaded")

    def _switch(
        self, manifest: ModelManifest, previous: Mapping[str, int], progress: Progress
    ) -> str:
        traffic = split_traffic(manifest.version, 100, previous)
        self._set_traffic(manifest.model, manifest.environment, traffic)
        progress(f"traffic switched: {_shares(traffic)}")
        return "blue/green" if previous else "first deployment"

    def _canary(
        self, manifest: ModelManifest, previous: Mapping[str, int], progress: Progress
    ) -> str:
        model, environment, version = manifest.model, manifest.environment, manifest.version
        steps = manifest.deployment.canary_steps
        try:
            for index, step in enumerate(steps, 1):
                before = self._version(model, environment, version)
                traffic = split_traffic(version, step, previous)
                self._set_traffic(model, environment, traffic)
                progress(f"canary step {index}/{len(steps)}: {_shares(traffic)}")
                self._pause(manifest.deployment.step_pause_seconds)
                after = self._observe(model, environment, version, before)
                problem, observed = judge_step(before, after, self.check)
                if problem is not None:
                    raise TargetError(
                        f"canary of {model} {version} failed at {step}%: {problem}",
                        hint="traffic went back to the previous version; fix the model, or "
                        "relax the local target's canary check if this was noise",
                    )
                progress(f"step {index} healthy: {observed}")
        except TargetError:
            self._give_back(model, environment, version, previous, progress)
            raise
        return "canary " + "→".join(f"{s}%" for s in steps)

    def _observe(
        self, model: str, environment: str, version: str, before: VersionView | None
    ) -> VersionView:
        """Counters of the new version once it served `min_requests` in the step, or time is up."""
        deadline = time.monotonic() + self.check.evidence_wait_seconds
        while True:
            after = self._version(model, environment, version)
            if after is None:
                raise TargetError(f"{model} {version} vanished from the scoring server")
            seen = after.requests - (before.requests if before else 0)
            if seen >= self.check.min_requests or time.monotonic() >= deadline:
                return after
            self._pause(_EVIDENCE_POLL_SECONDS)

    def _give_back(
        self,
        model: str,
        environment: str,
        version: str,
        previous: Mapping[str, int],
        progress: Progress,
    ) -> None:
        self._set_traffic(model, environment, {**previous, version: 0})
        progress(f"traffic returned: {_shares(previous)}")
        self._call("DELETE", f"/v1/admin/models/{model}/versions/{version}", environment)
        progress(f"unloaded {model} {version}")

    def _retire(
        self,
        model: str,
        environment: str,
        version: str,
        previous: Mapping[str, int],
        progress: Progress,
    ) -> None:
        """Unload idle versions, except the one that served most before (for a quick rollback)."""
        kept = (
            {max(previous, key=lambda v: previous[v])} if previous and self.keep_previous else set()
        )
        view = self._view(model, environment)
        for loaded in view.versions if view else []:
            if loaded.traffic == 0 and loaded.version not in kept | {version}:
                self._call(
                    "DELETE", f"/v1/admin/models/{model}/versions/{loaded.version}", environment
                )
                progress(f"unloaded idle {model} {loaded.version}")

    # ----- HTTP ----------------------------------------------------------------------------

    def _set_traffic(self, model: str, environment: str, traffic: Mapping[str, int]) -> None:
        body = TrafficRequest(traffic=dict(traffic)).model_dump()
        self._call("PUT", f"/v1/admin/models/{model}/traffic", environment, body=body)

    def _view(self, model: str, environment: str) -> ModelView | None:
        response = self._call("GET", f"/v1/models/{model}", environment, missing_ok=True)
        return None if response is None else ModelView.model_validate(response.json())

    def _version(self, model: str, environment: str, version: str) -> VersionView | None:
        view = self._view(model, environment)
        found = [v for v in view.versions if v.version == version] if view else []
        return found[0] if found else None

    def _call(
        self,
        method: str,
        path: str,
        environment: str,
        *,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
        missing_ok: bool = False,
    ) -> Any:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._client.request(
                method, path, params={"environment": environment}, json=body, **extra
            )
        except httpx.HTTPError as exc:
            raise TargetError(
                f"the scoring server at {self.base_url} did not answer {method} {path}: {exc}",
                hint=_START_HINT,
            ) from exc
        if missing_ok and response.status_code == 404:
            return None
        if response.is_success:
            return response
        detail, hint = _error_of(response)
        raise TargetError(f"the scoring server refused {method} {path}: {detail}", hint=hint)


def _error_of(response: httpx.Response) -> tuple[str, str | None]:
    try:
        payload = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}", None
    if isinstance(payload, dict):
        return str(payload.get("detail", payload)), payload.get("hint")
    return f"HTTP {response.status_code}: {payload}", None


def _require_local(deployment: Deployment) -> None:
    if deployment.target is not TargetKind.LOCAL:
        raise TargetError(
            f"the local target cannot deploy to a {deployment.target.value!r} target",
            hint="set `deployment.target: local` in the manifest, or use that target's adapter",
        )


def _state(
    model: str, environment: str, deployment: Deployment, view: ModelView | None
) -> ServingState:
    traffic = view.traffic if view else {}
    return ServingState(
        model=model, environment=environment, endpoint=deployment.endpoint, traffic=traffic
    )


def _shares(traffic: Mapping[str, int]) -> str:
    serving = {v: s for v, s in traffic.items() if s > 0}
    return ", ".join(f"{v} {s}%" for v, s in sorted(serving.items(), key=lambda i: -i[1]))
