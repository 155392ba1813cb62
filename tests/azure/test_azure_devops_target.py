"""Azure DevOps as CD: the azure-devops SDK runs the pipeline in the sandbox over HTTP."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import isodate
import pytest
from azure.devops.v7_1.pipelines import models as pipeline_models
from azure.devops.v7_1.pipelines.models import RunPipelineParameters

from bot.azure.settings import AzureDevOpsSettings
from bot.domain.manifest import ModelManifest
from bot.errors import TargetError
from bot.targets.azure_devops import AzureDevOpsTarget, build_pipelines_client
from tests.azure.conftest import AzureWorld
from tests.support.http import LOCAL


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


# The .NET `ReferenceLinks` is written on the wire as its map of links
# (`"_links": {"self": {"href": ...}, "web": {...}}`), not as the SDK model's `{"links": ...}`.
_WIRE_TYPES = {"ReferenceLinks": "{object}"}
_SCALARS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "object": lambda _value: True,
    "iso-8601": lambda v: isinstance(v, str) and _is_datetime(v),
}
# RunState and RunResult of "Runs - Get" (learn.microsoft.com/rest/api/azure/devops/pipelines/
# runs/get, api-version 7.1); the SDK's `Run` types both as `object`.
RUN_STATES = {"unknown", "inProgress", "canceling", "completed"}
RUN_RESULTS = {"unknown", "succeeded", "failed", "canceled"}


def _is_datetime(value: str) -> bool:
    try:
        isodate.parse_datetime(value)
    except (ValueError, isodate.ISO8601Error):
        return False
    return True


def sdk_problems(type_name: str, value: Any, where: str) -> list[str]:
    """How a JSON value departs from azure-devops' generated model (msrest `_attribute_map`
    types) of `azure.devops.v7_1.pipelines.models`: wrong JSON type or format, unknown field,
    missing required field."""
    type_name = _WIRE_TYPES.get(type_name, type_name)
    if value is None:
        return []
    if type_name.startswith(("{", "[")):
        inner, container = type_name[1:-1], dict if type_name[0] == "{" else list
        if not isinstance(value, container):
            return [f"{where}: expected {container.__name__}, got {value!r}"]
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return [p for key, item in items for p in sdk_problems(inner, item, f"{where}.{key}")]
    if type_name in _SCALARS:
        return [] if _SCALARS[type_name](value) else [f"{where}: {value!r} is not {type_name}"]
    model = getattr(pipeline_models, type_name)
    if not isinstance(value, dict):
        return [f"{where}: expected an object for {type_name}, got {value!r}"]
    fields = {spec["key"]: spec["type"] for spec in model._attribute_map.values()}
    required = [
        model._attribute_map[attr]["key"]
        for attr, rules in model._validation.items()
        if rules.get("required")
    ]
    problems = [f"{where}.{key}: missing, required by {type_name}" for key in required]
    problems = [p for p, key in zip(problems, required, strict=True) if key not in value]
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{where}.{key}: not a field of {type_name}")
        else:
            problems += sdk_problems(fields[key], item, f"{where}.{key}")
    return problems


def _listed(azure: AzureWorld, pipeline_id: int) -> list[dict[str, Any]]:
    """The pipeline's runs as Runs - List answers: no template parameters, in no order."""
    organization = f"{azure.base_url}/{azure.config.devops_organization}"
    url = f"{organization}/ml-platform/_apis/pipelines/{pipeline_id}/runs"
    response = LOCAL.get(url, auth=("", azure.config.devops_pat))
    response.raise_for_status()
    runs: list[dict[str, Any]] = response.json()["value"]
    return runs


def _runs(azure: AzureWorld, pipeline_id: int) -> list[dict[str, Any]]:
    """The pipeline's runs as Runs - Get answers each, oldest first."""
    organization = f"{azure.base_url}/{azure.config.devops_organization}"
    url = f"{organization}/ml-platform/_apis/pipelines/{pipeline_id}/runs"
    found = []
    for listed in sorted(_listed(azure, pipeline_id), key=lambda r: int(r["id"])):
        response = LOCAL.get(f"{url}/{listed['id']}", auth=("", azure.config.devops_pat))
        response.raise_for_status()
        found.append(response.json())
    return found


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


def test_runs_match_the_sdks_run_model(azure: AzureWorld) -> None:
    """The sandbox's run bodies are what azure-devops' own `Run` model describes."""
    AzureDevOpsTarget(_settings(azure)).apply(_manifest("7", 20), lambda _l: None)

    for run in _runs(azure, 20):
        assert sdk_problems("Run", run, "run") == []
        assert run["state"] in RUN_STATES
        assert run.get("result", "unknown") in RUN_RESULTS
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


@pytest.fixture(scope="module")
def a_run(azure_world: AzureWorld) -> dict[str, Any]:
    """One finished run of pipeline 21, as the sandbox lists it."""
    AzureDevOpsTarget(_settings(azure_world)).apply(_manifest("7", 21), lambda _l: None)
    [run] = _runs(azure_world, 21)
    return run


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("id", "20", "run.id: '20' is not int"),
        ("createdDate", "last Tuesday", "run.createdDate: 'last Tuesday' is not iso-8601"),
        ("pipeline.revision", 1.5, "run.pipeline.revision: 1.5 is not int"),
        ("templateParameters", ["model"], "run.templateParameters: expected dict"),
        ("variables.deploy", "yes", "run.variables.deploy: expected an object for Variable"),
        ("queueTime", "2025-01-01T00:00:00Z", "run.queueTime: not a field of Run"),
    ],
)
def test_the_run_model_check_catches_a_wrong_body(
    a_run: dict[str, Any], path: str, value: Any, problem: str
) -> None:
    """Wrong types, a bad date, a field `Run` does not have: each is reported."""
    run = copy.deepcopy(a_run)
    assert sdk_problems("Run", run, "run") == []
    *parents, last = path.split(".")
    node = run
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value

    problems = sdk_problems("Run", run, "run")
    assert any(found.startswith(problem) for found in problems), problems


def test_what_serves_is_the_newest_succeeded_run_whatever_order_the_list_has(
    azure: AzureWorld,
) -> None:
    """Runs - List has no documented order (the sandbox never lists the newest first): the
    newest run by id decides, so version 8 serves after 7."""
    target = AzureDevOpsTarget(_settings(azure))
    target.apply(_manifest("7", 40), lambda _l: None)
    target.apply(_manifest("8", 40), lambda _l: None)

    fresh = AzureDevOpsTarget(_settings(azure))

    listed = [run["id"] for run in _listed(azure, 40)]
    assert listed[0] != max(listed)
    assert fresh.state("churn", "production", _manifest("8", 40).deployment).traffic == {"8": 100}


def test_each_completed_run_is_read_once(azure: AzureWorld) -> None:
    """Runs - List leaves out the template parameters, so each run is read with Runs - Get;
    a completed run never changes, so a second look costs the listing only."""
    target = AzureDevOpsTarget(_settings(azure))
    for version in ("7", "8", "9"):
        target.apply(_manifest(version, 42), lambda _l: None)
    target.state("churn", "production", _manifest("9", 42).deployment)
    gets_before = len(azure.requests(r"GET .*/pipelines/42/runs/\d+$"))

    state = target.state("churn", "production", _manifest("9", 42).deployment)

    assert state.traffic == {"9": 100}
    assert len(azure.requests(r"GET .*/pipelines/42/runs/\d+$")) == gets_before


def _start(azure: AzureWorld, pipeline_id: int, version: str) -> int:
    """Start a run as promobot's target does, from outside; returns its id."""
    client = build_pipelines_client(_settings(azure))
    parameters = {"model": "churn", "version": version, "environment": "production"}
    run = client.run_pipeline(
        RunPipelineParameters(template_parameters=parameters), "ml-platform", pipeline_id
    )
    return int(run.id)


def test_inside_the_run_promobot_started_the_manifest_counts_the_run_as_its_deployment(
    azure: AzureWorld,
) -> None:
    """The run's own `promobot apply` meets the manifest that started it: the run is that
    deployment, so nothing waits for itself and no other run starts."""
    run_id = _start(azure, 43, "7")
    inside = {"SYSTEM_DEFINITIONID": "43", "BUILD_BUILDID": str(run_id)}
    lines: list[str] = []

    outcome = AzureDevOpsTarget(_settings(azure), environ=inside).apply(
        _manifest("7", 43), lines.append
    )

    assert outcome.changed
    assert outcome.state.traffic == {"7": 100}
    assert outcome.detail.startswith("this run (")
    assert f"buildId={run_id}" in outcome.detail
    assert [r["id"] for r in _listed(azure, 43)] == [run_id]


def test_the_target_refuses_to_wait_for_the_pipeline_it_runs_in(azure: AzureWorld) -> None:
    """Inside a run of pipeline 32 that was not started for this manifest (a CI run, or a run
    for another version), a manifest deploying through pipeline 32 would hang forever."""
    run_id = _start(azure, 32, "6")
    target = AzureDevOpsTarget(
        _settings(azure), environ={"SYSTEM_DEFINITIONID": "32", "BUILD_BUILDID": str(run_id)}
    )

    with pytest.raises(TargetError, match="would wait for itself") as error:
        target.apply(_manifest("7", 32), lambda _l: None)

    assert "--version" in str(error.value.hint)
    assert [r["id"] for r in _listed(azure, 32)] == [run_id]
