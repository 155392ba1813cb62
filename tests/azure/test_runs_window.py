"""What serves through an Azure DevOps pipeline once the run that deployed it has left the
window of runs promobot reads.

Runs - List answers a pipeline's newest runs only ("top 10000",
https://learn.microsoft.com/rest/api/azure/devops/pipelines/runs/list) and without their
template parameters, so promobot reads the newest `RUNS_SCANNED` of them one by one
(Runs - Get). A pipeline that deploys several models and environments can run many times
after a production deployment: its run then falls out of what promobot reads, and later
out of the list itself. The sandbox's `runs_list_limit` sets the list's window.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from azure.devops.v7_1.pipelines.models import RunPipelineParameters
from promobot_sandbox.azure.config import SandboxAzureConfig
from promobot_sandbox.azure.server import SandboxAzureServer

from bot.azure.settings import AzureDevOpsSettings
from bot.errors import TargetError
from bot.targets.azure_devops import RUNS_SCANNED, AzureDevOpsTarget, build_pipelines_client
from tests.azure.conftest import example_pipelines
from tests.azure.test_azure_devops_target import _manifest

PIPELINE = 61
WINDOW = RUNS_SCANNED + 5
"""What the sandbox's Runs - List returns: more than promobot reads, as Azure's 10000 is."""


@contextmanager
def _devops(folder: Path) -> Iterator[tuple[AzureDevOpsSettings, SandboxAzureServer]]:
    """A sandbox of its own whose Runs - List returns the newest WINDOW runs."""
    config = SandboxAzureConfig.model_validate(
        {
            "data_dir": folder / "sandbox",
            "pipeline_seconds": 0.0,
            "runs_list_limit": WINDOW,
            "seed": {"pipelines": example_pipelines([PIPELINE])},
        }
    )
    with SandboxAzureServer(config) as server:
        settings = AzureDevOpsSettings.model_validate(
            {
                "organization_url": f"{server.base_url}/{config.devops_organization}",
                "project": "ml-platform",
                "token": config.devops_pat,
                "poll_interval_seconds": 0.01,
                "max_retries": 0,
            }
        )
        yield settings, server


def _run(client: Any, version: str, environment: str) -> int:
    """Start a run as promobot's target does; with `pipeline_seconds=0` it is done at once."""
    parameters = {"model": "churn", "version": version, "environment": environment}
    run = client.run_pipeline(
        RunPipelineParameters(template_parameters=parameters), "ml-platform", PIPELINE
    )
    return int(run.id)


def _listed(client: Any) -> set[int]:
    return {int(r.id) for r in client.list_runs("ml-platform", PIPELINE)}


def _run_gets(server: SandboxAzureServer) -> int:
    path = f"/_apis/pipelines/{PIPELINE}/runs/"
    return sum(
        1 for e in server.sandbox.log.entries() if e["method"] == "GET" and path in e["path"]
    )


def test_what_serves_is_found_while_its_run_is_read_and_unknown_once_it_is_not(
    tmp_path: Path,
) -> None:
    """Production's run is the oldest of RUNS_SCANNED: a fresh target finds version 7.
    Then staging runs push it out of what promobot reads and out of Runs - List: `state`
    says it cannot tell rather than that nothing serves, staging stays readable, and the
    reads stay bounded."""
    with _devops(tmp_path) as (settings, server):
        client = build_pipelines_client(settings)
        production = AzureDevOpsTarget(settings).apply(_manifest("7", PIPELINE), lambda _l: None)
        first = int(production.detail.rsplit("buildId=", 1)[1])
        for n in range(RUNS_SCANNED - 1):
            _run(client, f"s{n}", "staging")
        deployment = _manifest("7", PIPELINE).deployment

        found = AzureDevOpsTarget(settings).state("churn", "production", deployment)

        assert found.traffic == {"7": 100}
        for n in range(RUNS_SCANNED - 1, WINDOW + 1):
            _run(client, f"s{n}", "staging")
        assert first not in _listed(client)
        gets_before = _run_gets(server)
        fresh = AzureDevOpsTarget(settings)

        with pytest.raises(TargetError, match="cannot tell what pipeline 61 deployed") as error:
            fresh.state("churn", "production", deployment)

        assert "churn in production" in str(error.value)
        assert f"newest {RUNS_SCANNED} of the {WINDOW} runs" in str(error.value)
        assert "apply" in str(error.value.hint)
        assert _run_gets(server) - gets_before == RUNS_SCANNED
        staging = fresh.state("churn", "staging", deployment)
        assert staging.traffic == {f"s{WINDOW}": 100}


def test_apply_runs_the_pipeline_again_when_the_deploying_run_is_out_of_reach(
    tmp_path: Path,
) -> None:
    """Version 7's production run is out of the window: apply cannot see that it already
    serves, so it says so and runs the pipeline for version 7 again; that run is the newest,
    so what serves is known again."""
    with _devops(tmp_path) as (settings, _server):
        client = build_pipelines_client(settings)
        target = AzureDevOpsTarget(settings)
        target.apply(_manifest("7", PIPELINE), lambda _l: None)
        for n in range(WINDOW):
            _run(client, f"s{n}", "staging")
        lines: list[str] = []

        outcome = target.apply(_manifest("7", PIPELINE), lines.append)

        assert outcome.changed
        assert outcome.state.traffic == {"7": 100}
        assert any(
            ln.startswith(f"no succeeded run of pipeline {PIPELINE} for churn in production")
            for ln in lines
        )
        assert any(ln.startswith("started run") for ln in lines)
        deployment = _manifest("7", PIPELINE).deployment
        assert AzureDevOpsTarget(settings).state("churn", "production", deployment).traffic == {
            "7": 100
        }
