"""Bodies of the scoring server's HTTP API, shared by the server and `LocalTarget`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LoadRequest(_Body):
    """`PUT /v1/admin/models/{model}/versions/{version}`: load and smoke-test a version."""

    uri: str = Field(
        min_length=1,
        description="MLflow model URI: `models:/name/7`, `models:/name@alias`, `runs:/…`, a path.",
    )
    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI that resolves `uri`; the server's own when omitted.",
    )


class TrafficRequest(_Body):
    """`PUT /v1/admin/models/{model}/traffic`: the new shares, applied at once."""

    traffic: dict[str, int] = Field(
        description="Version -> percentage; loaded versions only, adding up to 100."
    )


class SmokeResult(_Body):
    """How a freshly loaded version answered its smoke test."""

    rows: int = Field(ge=0, description="Rows scored by the smoke test.")
    source: str = Field(description="`input_example` or `signature`: where the rows came from.")


class VersionView(_Body):
    """One loaded version of a (model, environment)."""

    version: str = Field(description="Registry version.")
    uri: str = Field(description="Model URI it was loaded from.")
    traffic: int = Field(ge=0, le=100, description="Percentage of requests it receives.")
    requests: int = Field(ge=0, description="Prediction requests since it was loaded.")
    errors: int = Field(ge=0, description="Requests that failed since it was loaded.")
    p99_latency_ms: float | None = Field(
        default=None, description="99th percentile latency of its recent requests."
    )
    loaded_at: dt.datetime = Field(description="When this server loaded it (UTC).")
    smoke: SmokeResult | None = Field(
        default=None, description="Smoke test result, in the answer to a load."
    )


class ModelView(_Body):
    """`GET /v1/models/{model}`: what serves a model in one environment."""

    model: str = Field(description="Model name.")
    environment: str = Field(description="Environment.")
    versions: list[VersionView] = Field(description="Loaded versions, serving or idle.")

    @property
    def traffic(self) -> dict[str, int]:
        """Version -> share, for versions that receive traffic."""
        return {v.version: v.traffic for v in self.versions if v.traffic > 0}


class PredictionResponse(_Body):
    """`POST /v1/models/{model}/predict`: the predictions and the version that made them."""

    model: str = Field(description="Model name.")
    environment: str = Field(description="Environment.")
    version: str = Field(description="Version that scored the request.")
    predictions: Any = Field(description="The model's output, one entry per input row.")


class ErrorBody(_Body):
    """Every error answer: what went wrong and how to fix it."""

    detail: str = Field(description="What went wrong.")
    hint: str | None = Field(default=None, description="How to fix it.")
