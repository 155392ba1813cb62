"""The scoring service: loaded versions per (model, environment) and the traffic between them.

Routing reads one immutable `Route` per request; admin operations build a new
route and swap it in with a single assignment. A request therefore sees either
the old shares or the new ones, never a mixture, and a version that loses its
traffic keeps answering the requests already routed to it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from bot.domain.manifest import NAME_PATTERN
from bot.errors import PromobotError
from bot.serving.api import LoadRequest, ModelView, PredictionResponse, SmokeResult, VersionView
from bot.serving.errors import BadPayload, Conflict, LoadFailed, NotServing, PredictionFailed
from bot.serving.metrics import VersionSample, VersionStats
from bot.serving.models import fetch_model, load_pyfunc, smoke_test
from bot.serving.native import NativeThreads
from bot.serving.payloads import float_columns, frame_from_payload, to_json
from bot.serving.routing import check_shares, schedule
from bot.serving.state import (
    StoredEndpoint,
    StoredState,
    StoredVersion,
    read_state,
    write_state,
)

log = logging.getLogger(__name__)

_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(r"^[0-9A-Za-z_-][0-9A-Za-z._-]{0,99}$")


@dataclass(eq=False)
class LoadedVersion:
    """A version in memory, ready to score, with its own counters."""

    version: str
    uri: str
    tracking_uri: str | None
    local_path: Path
    model: Any
    loaded_at: dt.datetime
    stats: VersionStats = field(default_factory=VersionStats)

    widen: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.widen = float_columns(self.model.metadata.get_input_schema())


@dataclass(frozen=True)
class Route:
    """Immutable traffic table: the shares and the slot cycle built from them."""

    shares: Mapping[str, int]
    slots: tuple[LoadedVersion, ...]


EMPTY_ROUTE = Route(shares={}, slots=())


class Endpoint:
    """The versions of one (model, environment) and the route that serves them."""

    def __init__(self) -> None:
        self.versions: dict[str, LoadedVersion] = {}
        self.route: Route = EMPTY_ROUTE

    def set_route(self, shares: Mapping[str, int]) -> None:
        """Swap in a new route; one assignment, so readers never see half of it."""
        kept = {v: s for v, s in shares.items() if v in self.versions}
        slots = tuple(self.versions[v] for v in schedule(kept))
        self.route = Route(shares=kept, slots=slots)


class ScoringService:
    """What the HTTP layer calls. Thread-safe: predictions run concurrently with admin calls."""

    def __init__(
        self, *, state_dir: Path | None, tracking_uri: str | None, environment: str
    ) -> None:
        self.tracking_uri = tracking_uri
        self.environment = environment
        self._state_dir = state_dir
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="promobot-serving-")
            self._root = Path(self._scratch.name)
        else:
            self._root = state_dir
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._admin = threading.Lock()
        self._native = NativeThreads()
        self._tickets = itertools.count()

    # ----- serving -------------------------------------------------------------------------

    def predict(
        self, model: str, environment: str, payload: Any, version: str | None = None
    ) -> PredictionResponse:
        """Score the payload with the version the route picks (or the one asked for)."""
        chosen = self._pick(model, environment, version)
        frame = frame_from_payload(payload, chosen.widen)
        self._native.limit()
        started = time.perf_counter()
        try:
            output = chosen.model.predict(frame)
        except MlflowException as exc:
            chosen.stats.record(time.perf_counter() - started, failed=True)
            raise BadPayload(
                f"version {chosen.version} of {model} refused the input: {exc.message}",
                hint="send the columns and types of the model's signature",
            ) from exc
        except Exception as exc:
            # Whatever the model raises is this version's failure, counted against it.
            chosen.stats.record(time.perf_counter() - started, failed=True)
            raise PredictionFailed(f"version {chosen.version} of {model} failed: {exc}") from exc
        chosen.stats.record(time.perf_counter() - started, failed=False)
        return PredictionResponse(
            model=model,
            environment=environment,
            version=chosen.version,
            predictions=to_json(output),
        )

    def _pick(self, model: str, environment: str, version: str | None) -> LoadedVersion:
        endpoint = self._endpoints.get((model, environment))
        if version is not None:
            pinned = endpoint.versions.get(version) if endpoint else None
            if pinned is None:
                raise NotServing(f"version {version} of {model} is not loaded in {environment}")
            return pinned
        slots = endpoint.route.slots if endpoint else ()
        if not slots:
            raise NotServing(
                f"no version of {model} serves in environment {environment}",
                hint="deploy one with `promobot apply`, or check the model name and the "
                "`environment` query parameter",
            )
        return slots[next(self._tickets) % len(slots)]

    # ----- reading ---------------------------------------------------------------------------

    def describe(self, model: str, environment: str) -> ModelView:
        """The loaded versions, their shares and counters."""
        endpoint = self._endpoints.get((model, environment))
        if endpoint is None or not endpoint.versions:
            raise NotServing(f"no version of {model} is loaded in environment {environment}")
        return _view(model, environment, endpoint)

    def describe_all(self) -> list[ModelView]:
        """Every (model, environment) with at least one loaded version."""
        # dict() copies in one step, so an endpoint added meanwhile cannot break the iteration.
        return [
            _view(model, environment, endpoint)
            for (model, environment), endpoint in sorted(dict(self._endpoints).items())
            if endpoint.versions
        ]

    def samples(self) -> Iterator[VersionSample]:
        """Counters of every loaded version, for the Prometheus exposition."""
        for (model, environment), endpoint in sorted(dict(self._endpoints).items()):
            shares = endpoint.route.shares
            for version, loaded in sorted(dict(endpoint.versions).items()):
                yield VersionSample(
                    model=model,
                    environment=environment,
                    version=version,
                    share=shares.get(version, 0),
                    stats=loaded.stats.snapshot(),
                )

    # ----- admin -----------------------------------------------------------------------------

    def load(self, model: str, environment: str, version: str, request: LoadRequest) -> VersionView:
        """Load and smoke-test a version beside the serving ones; it takes no traffic yet."""
        _check_names(model, environment, version)
        with self._admin:
            endpoint = self._endpoints.setdefault((model, environment), Endpoint())
            present = endpoint.versions.get(version)
            if present is not None:
                if present.uri != request.uri:
                    raise Conflict(
                        f"version {version} of {model} is already loaded from {present.uri}",
                        hint="unload it first if the registry now holds something else",
                    )
                return _version_view(present, endpoint.route.shares)
            tracking_uri = request.tracking_uri or self.tracking_uri
            loaded, smoke = self._fetch_and_check(
                model, environment, version, request.uri, tracking_uri
            )
            endpoint.versions[version] = loaded
            self._persist()
        log.info("loaded %s version %s (%s) in %s", model, version, request.uri, environment)
        return _version_view(loaded, endpoint.route.shares, smoke)

    def set_traffic(self, model: str, environment: str, shares: Mapping[str, int]) -> ModelView:
        """Replace the shares in one step."""
        with self._admin:
            endpoint = self._endpoints.get((model, environment))
            loaded = set(endpoint.versions) if endpoint else set()
            problem = check_shares(shares, loaded)
            if problem is not None or endpoint is None:
                raise Conflict(f"cannot set the traffic of {model} in {environment}: {problem}")
            endpoint.set_route(shares)
            self._persist()
            view = _view(model, environment, endpoint)
        log.info("traffic of %s in %s: %s", model, environment, dict(endpoint.route.shares))
        return view

    def unload(self, model: str, environment: str, version: str) -> None:
        """Drop an idle version from memory and disk."""
        with self._admin:
            endpoint = self._endpoints.get((model, environment))
            loaded = endpoint.versions.get(version) if endpoint else None
            if endpoint is None or loaded is None:
                raise NotServing(f"version {version} of {model} is not loaded in {environment}")
            if endpoint.route.shares.get(version, 0) > 0:
                raise Conflict(
                    f"version {version} of {model} still receives traffic in {environment}",
                    hint="move its traffic to another version first",
                )
            del endpoint.versions[version]
            self._persist()
        shutil.rmtree(self._version_dir(model, environment, version), ignore_errors=True)

    # ----- lifecycle ---------------------------------------------------------------------------

    def restore(self) -> None:
        """Load again what the state directory says was served, before taking requests."""
        if self._state_dir is None:
            return
        for stored in read_state(self._state_dir).endpoints:
            endpoint = self._endpoints.setdefault((stored.model, stored.environment), Endpoint())
            for item in stored.versions:
                try:
                    endpoint.versions[item.version] = self._restore_version(stored, item)
                except PromobotError as exc:
                    log.error(
                        "not serving %s version %s again: %s", stored.model, item.version, exc
                    )
            endpoint.set_route({item.version: item.share for item in stored.versions})
            log.info(
                "restored %s in %s: %s",
                stored.model,
                stored.environment,
                dict(endpoint.route.shares),
            )

    def close(self) -> None:
        """Remove the scratch directory of a server without a state directory."""
        if self._scratch is not None:
            self._scratch.cleanup()

    def _restore_version(self, stored: StoredEndpoint, item: StoredVersion) -> LoadedVersion:
        path = self._root / item.local_path
        if not path.exists():
            return self._fetch_and_check(
                stored.model, stored.environment, item.version, item.uri, item.tracking_uri
            )[0]
        model = load_pyfunc(path, item.uri)
        self._native.libraries_changed()
        return LoadedVersion(
            version=item.version,
            uri=item.uri,
            tracking_uri=item.tracking_uri,
            local_path=path,
            model=model,
            loaded_at=dt.datetime.now(dt.UTC),
        )

    def _fetch_and_check(
        self, model: str, environment: str, version: str, uri: str, tracking_uri: str | None
    ) -> tuple[LoadedVersion, SmokeResult]:
        destination = self._version_dir(model, environment, version)
        try:
            path = fetch_model(uri, tracking_uri, destination)
            pyfunc = load_pyfunc(path, uri)
            self._native.libraries_changed()
            self._native.limit()
            smoke = smoke_test(pyfunc, uri)
        except LoadFailed:
            shutil.rmtree(destination, ignore_errors=True)
            raise
        loaded = LoadedVersion(
            version=version,
            uri=uri,
            tracking_uri=tracking_uri,
            local_path=path,
            model=pyfunc,
            loaded_at=dt.datetime.now(dt.UTC),
        )
        return loaded, smoke

    def _version_dir(self, model: str, environment: str, version: str) -> Path:
        return self._root / "models" / model / environment / version

    def _persist(self) -> None:
        if self._state_dir is None:
            return
        endpoints = tuple(
            StoredEndpoint(
                model=model,
                environment=environment,
                versions=tuple(
                    StoredVersion(
                        version=version,
                        uri=loaded.uri,
                        tracking_uri=loaded.tracking_uri,
                        local_path=loaded.local_path.relative_to(self._root).as_posix(),
                        share=endpoint.route.shares.get(version, 0),
                    )
                    for version, loaded in sorted(endpoint.versions.items())
                ),
            )
            for (model, environment), endpoint in sorted(self._endpoints.items())
            if endpoint.versions
        )
        write_state(self._state_dir, StoredState(endpoints=endpoints))


def _check_names(model: str, environment: str, version: str) -> None:
    for kind, value, pattern in (
        ("model", model, _NAME),
        ("environment", environment, _NAME),
        ("version", version, _VERSION),
    ):
        if not pattern.match(value):
            raise BadPayload(
                f"{kind} {value!r} is not a valid name",
                hint="use lower-case letters, digits, `.`, `_` and `-` (versions may use capitals)",
            )


def _version_view(
    loaded: LoadedVersion, shares: Mapping[str, int], smoke: SmokeResult | None = None
) -> VersionView:
    stats = loaded.stats.snapshot()
    return VersionView(
        version=loaded.version,
        uri=loaded.uri,
        traffic=shares.get(loaded.version, 0),
        requests=stats.requests,
        errors=stats.errors,
        p99_latency_ms=stats.p99_latency_ms,
        loaded_at=loaded.loaded_at,
        smoke=smoke,
    )


def _view(model: str, environment: str, endpoint: Endpoint) -> ModelView:
    shares = endpoint.route.shares
    loaded_now = sorted(dict(endpoint.versions).items())
    versions = [_version_view(loaded, shares) for _, loaded in loaded_now]
    return ModelView(model=model, environment=environment, versions=versions)
