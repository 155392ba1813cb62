"""Azure DevOps pipeline runs as the real service shapes them: Runs - List without
parameters, in no order, over a window; Run Pipeline only with declared parameters;
driven by the unmodified azure-devops SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.devops.exceptions import AzureDevOpsServiceError
from azure.devops.v7_1.pipelines.models import RunPipelineParameters

from tests.azure.conftest import STRICT_PIPELINE, StrictAzure, own_strict_sandbox

PROJECT = "ml-platform"


def _run(client: Any, pipeline_id: int = STRICT_PIPELINE, **parameters: str) -> Any:
    values = {"model": "churn", "version": "7", "environment": "production"}
    values.update(parameters)
    return client.run_pipeline(
        RunPipelineParameters(template_parameters=values), PROJECT, pipeline_id
    )


def test_runs_list_leaves_out_the_parameters_runs_get_gives(strict: StrictAzure) -> None:
    """A client must read each run to learn what it deployed."""
    client = strict.devops()
    started = _run(client, version="8")

    [listed] = [r for r in client.list_runs(PROJECT, STRICT_PIPELINE) if r.id == started.id]
    fetched = client.get_run(PROJECT, STRICT_PIPELINE, started.id)

    assert listed.template_parameters is None
    assert listed.resources is None
    assert fetched.template_parameters == {
        "model": "churn",
        "version": "8",
        "environment": "production",
    }
    assert fetched.pipeline.name == "models-cd"


def test_runs_list_is_not_newest_first(strict: StrictAzure) -> None:
    """No order is documented, so the sandbox never lists the newest run first."""
    client = strict.devops()
    started = [_run(client, version=str(v)).id for v in range(4)]

    listed = [r.id for r in client.list_runs(PROJECT, STRICT_PIPELINE)]

    assert set(started) <= set(listed)
    assert listed[0] != max(listed)
    assert listed == [r.id for r in client.list_runs(PROJECT, STRICT_PIPELINE)]


def test_runs_list_covers_only_the_newest_runs(strict: StrictAzure, tmp_path: Path) -> None:
    """ "Gets top 10000 runs": older runs drop out of the list but Runs - Get still has them."""
    with own_strict_sandbox(strict, tmp_path, runs_list_limit=3) as world:
        client = world.devops()
        started = [_run(client, version=str(v)).id for v in range(5)]

        listed = {r.id for r in client.list_runs(PROJECT, STRICT_PIPELINE)}
        oldest = client.get_run(PROJECT, STRICT_PIPELINE, started[0])

    assert listed == set(started[2:])
    assert oldest.template_parameters["version"] == "0"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"colour": "blue"}, "Unexpected parameter 'colour'"),
        ({"environment": "prod"}, "The 'environment' parameter value 'prod' is not a valid value."),
    ],
)
def test_run_pipeline_refuses_parameters_the_pipeline_does_not_declare(
    strict: StrictAzure, parameters: dict[str, str], message: str
) -> None:
    """400 before any run is queued."""
    client = strict.devops()
    before = len(client.list_runs(PROJECT, STRICT_PIPELINE))

    with pytest.raises(AzureDevOpsServiceError) as refused:
        _run(client, **parameters)

    assert strict.statuses(rf"POST .*/pipelines/{STRICT_PIPELINE}/runs$")[-1] == 400
    assert message in str(refused.value)
    assert refused.value.type_key == "PipelineValidationException"
    assert len(client.list_runs(PROJECT, STRICT_PIPELINE)) == before


def test_a_parameter_without_default_must_be_given(strict: StrictAzure) -> None:
    """Declared parameters without a default are required."""
    client = strict.devops()

    with pytest.raises(AzureDevOpsServiceError) as refused:
        client.run_pipeline(
            RunPipelineParameters(template_parameters={"model": "churn"}), PROJECT, STRICT_PIPELINE
        )

    assert "A value for the 'version' parameter must be provided." in str(refused.value)


def test_pipelines_and_their_parameters_are_seeded(strict: StrictAzure) -> None:
    """A pipeline exists once seeded, with the parameters its YAML declares."""
    client = strict.devops()
    with pytest.raises(AzureDevOpsServiceError) as missing:
        client.run_pipeline(RunPipelineParameters(), PROJECT, 77)

    strict.seed(pipelines=[{"id": 77, "parameters": [{"name": "dryRun", "type": "boolean"}]}])
    run = client.run_pipeline(
        RunPipelineParameters(template_parameters={"dryRun": "true"}), PROJECT, 77
    )

    assert missing.value.type_key == "PipelineNotFoundException"
    assert run.pipeline.name == "pipeline-77"
