"""Azure DevOps as CD: the azure-devops SDK runs the pipeline in the sandbox over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from azure.devops.v7_1.pipelines.models import RunPipelineParameters

from bot.domain.manifest import ModelManifest
from bot.errors import TargetError
from bot.targets.azure_devops import AzureDevOpsTarget, build_pipelines_client
from bot.targets.azure_settings import AzureDevOpsSettings
from tests.azure.conftest import AzureWorld


def _settings(azure: AzureWorld, **overrides: Any) -> AzureDevOpsSettings:
    values: dict[str, Any] = {
        "organization_url": f"{azure.base_url}/{azure.config.devops_organization}",
        "project": "ml-platform",
        "token": azure.config.devops_pat,
        "poll_interval_seconds": 0.02,
        "max_retries": 3,
    }
    values.update(overrides)
    return AzureDevOpsSettings(**values)


def _manifest(
    version: str, pipeline_id: int | None, environment: str = "production"
) -> ModelManifest:
    return ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": "churn",
            "environment": environment,
            "version": version,
            "source": {"registry": "azureml", "uri": f"azureml:churn:{version}"},
            "deployment": {
                "target": "azure-devops",
                "endpoint": "churn",
                "pipeline_id": pipeline_id,
            },
        }
    )


def _any_for_dotnet_object(node: Any) -> Any:
    """The description writes .NET `object` values as `{"type": "object"}`; they hold any JSON."""
    if isinstance(node, dict):
        if node == {"type": "object"}:
            return {}
        return {key: _any_for_dotnet_object(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_any_for_dotnet_object(item) for item in node]
    return node


def _runs(azure: AzureWorld, pipeline_id: int) -> list[dict[str, Any]]:
    organization = f"{azure.base_url}/{azure.config.devops_organization}"
    url = f"{organization}/ml-platform/_apis/pipelines/{pipeline_id}/runs"
    response = httpx.get(url, auth=("", azure.config.devops_pat))
    response.raise_for_status()
    runs: list[dict[str, Any]] = response.json()["value"]
    return runs


def test_apply_runs_the_pipeline_with_the_template_parameters(azure: AzureWorld) -> None:
    """The run gets model, version and environment; its success is the deployment's status."""
    outcome = AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 11), lambda _l: None)

    assert outcome.changed
    assert outcome.state.traffic == {"7": 100}
    assert "_build/results?buildId=" in outcome.detail
    [run] = _runs(azure, 11)
    assert run["templateParameters"] == {
        "model": "churn",
        "version": "7",
        "environment": "production",
    }
    assert (run["state"], run["result"]) == ("completed", "succeeded")


def test_a_version_the_latest_successful_run_deployed_is_not_deployed_again(
    azure: AzureWorld,
) -> None:
    """Idempotent: the pipeline's own history says what serves."""
    target = AzureDevOpsTarget(_settings(azure))
    target.apply(_manifest("7", 12), lambda _l: None)

    outcome = target.apply(_manifest("7", 12), lambda _l: None)

    assert not outcome.changed
    assert len(_runs(azure, 12)) == 1


def test_what_serves_is_tracked_per_environment(azure: AzureWorld) -> None:
    """A run for staging does not count as a production deployment."""
    target = AzureDevOpsTarget(_settings(azure))
    target.apply(_manifest("7", 13, environment="staging"), lambda _l: None)

    production = target.state("churn", "production", _manifest("7", 13).deployment)

    assert production.traffic == {}
    assert target.state("churn", "staging", _manifest("7", 13).deployment).traffic == {"7": 100}


def test_a_failed_run_fails_the_apply_and_leaves_the_previous_version(azure: AzureWorld) -> None:
    """The run's result is the outcome; the link to the run is in the message."""
    target = AzureDevOpsTarget(_settings(azure))
    target.apply(_manifest("7", 14), lambda _l: None)
    azure.fault(kind="pipeline", pipeline_id=14, result="failed")

    with pytest.raises(TargetError, match=r"ended failed .*buildId="):
        target.apply(_manifest("8", 14), lambda _l: None)

    assert target.state("churn", "production", _manifest("8", 14).deployment).traffic == {"7": 100}


def test_an_interrupted_apply_waits_for_the_run_it_started(azure: AzureWorld) -> None:
    """A run already deploying this version is awaited, not started twice."""
    azure.fault(kind="pipeline", pipeline_id=15, result="succeeded", seconds=1.0)
    client = build_pipelines_client(_settings(azure))
    parameters = {"model": "churn", "version": "7", "environment": "production"}
    client.run_pipeline(RunPipelineParameters(template_parameters=parameters), "ml-platform", 15)
    lines: list[str] = []

    outcome = AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 15), lines.append)

    assert outcome.changed
    assert not any(line.startswith("started run") for line in lines)
    assert any(line.endswith(": completed") for line in lines)
    assert len(_runs(azure, 15)) == 1


def test_throttled_calls_are_retried_after_retry_after(azure: AzureWorld) -> None:
    """429 on starting the run, with Retry-After: 1: retried once, one run only."""
    azure.fault(kind="http", method="POST", path=r"/pipelines/16/runs$", status=429, retry_after=1)

    outcome = AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 16), lambda _l: None)

    assert outcome.changed
    posts = azure.requests(r"POST .*/pipelines/16/runs$")
    assert [p["status"] for p in posts] == [429, 200]
    assert posts[1]["time"] - posts[0]["time"] >= 0.9
    assert len(_runs(azure, 16)) == 1


def test_a_server_error_on_start_is_not_retried(azure: AzureWorld) -> None:
    """A 500 may come after the run was queued: retrying could deploy twice, so apply fails."""
    azure.fault(kind="http", method="POST", path=r"/pipelines/17/runs$", status=500, message="boom")

    with pytest.raises(TargetError, match="boom"):
        AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 17), lambda _l: None)

    assert len(azure.requests(r"POST .*/pipelines/17/runs$")) == 1


def test_a_server_error_while_polling_is_retried(azure: AzureWorld) -> None:
    """Reads are safe to repeat."""
    azure.fault(
        kind="http", method="GET", path=r"/pipelines/18/runs/\d+$", status=503, retry_after=1
    )

    outcome = AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 18), lambda _l: None)

    assert outcome.changed
    assert 503 in [r["status"] for r in azure.requests(r"GET .*/pipelines/18/runs/\d+$")]


def test_a_wrong_token_is_refused(azure: AzureWorld) -> None:
    """The message says how to fix it."""
    target = AzureDevOpsTarget(_settings(azure, token="wrong"))

    with pytest.raises(TargetError, match="token"):
        target.apply(_manifest("7", 19), lambda _l: None)


def test_a_manifest_without_a_pipeline_is_refused(azure: AzureWorld) -> None:
    """`pipeline_id` is required for this target."""
    with pytest.raises(TargetError, match="pipeline_id is missing"):
        AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", None), lambda _l: None)


def test_runs_match_the_published_run_schema(azure: AzureWorld, fixtures_dir: Path) -> None:
    """The sandbox's run bodies validate against the Pipelines 7.1 description's `Run`."""
    AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 20), lambda _l: None)
    spec = json.loads(
        (fixtures_dir / "azure/devops-pipelines/pipelines.7.1.json").read_text("utf-8-sig")
    )
    schema = {
        "$ref": "#/definitions/Run",
        "definitions": _any_for_dotnet_object(spec["definitions"]),
    }

    for run in _runs(azure, 20):
        jsonschema.validate(run, schema)
        assert run["state"] in {"unknown", "inProgress", "canceling", "completed"}
        assert set(run) >= {
            "id",
            "name",
            "state",
            "result",
            "url",
            "pipeline",
            "_links",
            "createdDate",
        }


def test_the_target_refuses_to_wait_for_the_pipeline_it_runs_in(azure: AzureWorld) -> None:
    """Inside a run of pipeline 32, a manifest deploying through pipeline 32 would hang forever."""
    target = AzureDevOpsTarget(_settings(azure), environ={"SYSTEM_DEFINITIONID": "32"})

    with pytest.raises(TargetError, match="would wait for itself"):
        target.apply(_manifest("7", 32), lambda _l: None)

    assert _runs(azure, 32) == []
