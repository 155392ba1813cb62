"""azure-pipelines.yml on the checkout Azure Pipelines really makes: its own script lines run
against the sandbox Azure, with the environment an agent sets.

The agent fetches `+refs/heads/*:refs/remotes/origin/*` and checks out the pushed commit
(`Build.SourceVersion`) as a detached HEAD, so no local branch exists
(https://learn.microsoft.com/azure/devops/pipelines/repos/pipeline-options-for-git).
It expands template expressions (`${{ parameters.model }}`) when the run is compiled and
macros (`$(Build.SourcesDirectory)`) before a step runs, leaving an undefined macro as it
is; non-secret variables reach every script as environment variables (upper case, `.` as
`_`), secret ones only through a step's `env:`
(https://learn.microsoft.com/azure/devops/pipelines/process/variables#environment-variables).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from tests.azure.conftest import (
    FEATURES,
    PROJECT_ROOT,
    ROWS,
    AzureWorld,
    example_pipelines,
    own_sandbox,
)

PIPELINE_ID = 31
PROJECT = "ml-platform"
INSTALL_STEP = "python -m pip install ."
"""The one script line not replayed: promobot is already installed where the tests run."""
_MACRO = re.compile(r"\$\(([A-Za-z0-9_.]+)\)")
_TEMPLATE = re.compile(r"\$\{\{\s*parameters\.(\w+)\s*\}\}")
_CONDITION = re.compile(r"^\$\{\{\s*if (eq|ne)\(parameters\.(\w+),\s*'([^']*)'\)\s*\}\}$")


@dataclass
class Agent:
    """What an Azure Pipelines agent knows when it runs the job's steps."""

    sources: Path
    variables: dict[str, str]
    secrets: dict[str, str]
    parameters: dict[str, str]

    def environment(self, step_env: Mapping[str, str]) -> dict[str, str]:
        """The environment of one step's script."""
        bin_dir = str(Path(sys.executable).parent)
        env = {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.sources.parent / "home"),
            "LANG": "C.UTF-8",
        }
        env.update({_env_name(name): value for name, value in self.variables.items()})
        env.update({key: self.expand(str(value)) for key, value in step_env.items()})
        return env

    def expand(self, text: str) -> str:
        """Template expressions, then macros; an undefined macro stays as it is."""
        text = _TEMPLATE.sub(lambda m: self.parameters[m.group(1)], text)
        known = {**self.variables, **self.secrets}
        return _MACRO.sub(lambda m: known.get(m.group(1), m.group(0)), text)


def _env_name(variable: str) -> str:
    return variable.upper().replace(".", "_")


def _steps(pipeline: dict[str, Any], parameters: Mapping[str, str]) -> list[dict[str, Any]]:
    """The deploy steps, with `${{ if … }}` insertions resolved for these parameters."""
    job = pipeline["stages"][0]["jobs"][0]
    found: list[dict[str, Any]] = []
    for step in job["strategy"]["runOnce"]["deploy"]["steps"]:
        [key] = step if len(step) == 1 else [None]
        condition = _CONDITION.match(key) if key else None
        if condition:
            equal = parameters[condition.group(2)] == condition.group(3)
            if equal == (condition.group(1) == "eq"):
                found.extend(step[key])
        else:
            found.append(step)
    return found


def _script(step: dict[str, Any]) -> str | None:
    if "script" in step:
        return str(step["script"])
    if step.get("task") == "AzureCLI@2":
        assert step["inputs"]["scriptLocation"] == "inlineScript"
        return str(step["inputs"]["inlineScript"])
    return None


def run_pipeline(agent: Agent) -> list[subprocess.CompletedProcess[str]]:
    """Run the YAML's script steps in order, as the agent would; stop at the first failure."""
    pipeline: dict[str, Any] = YAML(typ="safe").load(PROJECT_ROOT / "azure-pipelines.yml")
    declared = {p["name"]: str(p.get("default", "")) for p in pipeline["parameters"]}
    agent.parameters = {**declared, **agent.parameters}
    done = []
    for step in _steps(pipeline, agent.parameters):
        script = _script(step)
        if script is None or script.strip() == INSTALL_STEP:
            continue
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", agent.expand(script)],
            cwd=agent.sources,
            env=agent.environment(step.get("env") or {}),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        done.append(result)
        if result.returncode != 0:
            break
    return done


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return result.stdout.strip()


def _manifest(model: str, version: str, deployment: Mapping[str, Any]) -> str:
    document = {
        "apiVersion": "promobot/v1",
        "kind": "ModelManifest",
        "model": model,
        "environment": "production",
        "version": version,
        "source": {"registry": "azureml", "uri": f"azureml:churn:{version}"},
        "deployment": dict(deployment),
    }
    return json.dumps(document, indent=2) + "\n"


class Origin:
    """The GitOps repository on its server: a bare repository with `main`."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True)
        self.bare = root / "origin.git"
        self.work = root / "author"
        _git(root, "init", "--bare", "-b", "main", str(self.bare))
        _git(root, "init", "-b", "main", str(self.work))
        request = {"input_data": {"columns": FEATURES, "index": [0, 1], "data": ROWS}}
        for model in ("churn", "fraud"):
            self.write(f"smoke-requests/{model}.json", json.dumps(request))

    def write(self, path: str, text: str) -> None:
        """Change a file in the author's clone."""
        file = self.work / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")

    def push(self, message: str) -> str:
        """Commit everything and push it to main; returns the commit."""
        _git(self.work, "add", "-A")
        _git(
            self.work,
            "-c",
            "user.name=Data Scientist",
            "-c",
            "user.email=ds@example.com",
            "commit",
            "-q",
            "-m",
            message,
        )
        _git(self.work, "push", "-q", str(self.bare), "main")
        return _git(self.work, "rev-parse", "HEAD")

    def checkout(self, sources: Path, commit: str) -> None:
        """What the agent's `checkout: self` does: fetch into remote-tracking refs, then
        check the commit out, detached."""
        sources.mkdir(parents=True)
        _git(sources, "init", "-q")
        _git(sources, "remote", "add", "origin", str(self.bare))
        _git(
            sources,
            "fetch",
            "--force",
            "--tags",
            "--prune",
            "--prune-tags",
            "--no-recurse-submodules",
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
        )
        _git(sources, "checkout", "-q", "--force", commit)


@pytest.fixture
def world(azure: AzureWorld, tmp_path: Path) -> Iterator[AzureWorld]:
    """A sandbox of its own (promobot moves registry aliases there), with pipeline 31."""
    seed = {
        "pipelines": example_pipelines([PIPELINE_ID]),
        "quota": {"family_limits": {"standardDSv2Family": 10_000}},
    }
    with own_sandbox(azure, tmp_path, seed=seed) as own:
        yield own


def _agent(world: AzureWorld, sources: Path, commit: str, **run: str) -> Agent:
    config = world.config
    variables = {
        # The variable group `promobot-azure` (its non-secret variables).
        "PROMOBOT_AZURE_SUBSCRIPTION_ID": config.subscription_id,
        "PROMOBOT_AZURE_RESOURCE_GROUP": config.resource_group,
        "PROMOBOT_AZURE_WORKSPACE": config.workspace,
        "PROMOBOT_AZURE_BASE_URL": world.base_url,
        "PROMOBOT_AZURE_TOKEN": config.arm_token,
        # Predefined variables.
        "Build.SourceVersion": commit,
        "Build.SourcesDirectory": str(sources),
        "Build.SourceBranch": "refs/heads/main",
        "Build.BuildId": run.pop("build_id", "1000"),
        "System.DefinitionId": str(PIPELINE_ID),
        "System.CollectionUri": f"{world.base_url}/{config.devops_organization}/",
        "System.TeamProject": PROJECT,
        "TF_BUILD": "True",
    }
    return Agent(
        sources=sources,
        variables=variables,
        secrets={"System.AccessToken": config.devops_pat},
        parameters=dict(run),
    )


def _endpoint_traffic(world: AzureWorld, endpoint: str) -> dict[str, int] | None:
    with httpx.Client() as client:
        found = client.get(
            f"{world.base_url}{world.config.workspace_path}/onlineEndpoints/{endpoint}",
            params={"api-version": "2023-04-01-preview"},
            headers={"Authorization": f"Bearer {world.config.arm_token}"},
        )
    if found.status_code == 404:
        return None
    traffic: dict[str, int] = found.json()["properties"]["traffic"]
    return {k: v for k, v in traffic.items() if v}


def test_a_push_applies_what_the_pushed_commit_changed_on_a_detached_checkout(
    world: AzureWorld, tmp_path: Path
) -> None:
    """Two manifests on main; the push changes one. The run resolves the pushed commit on a
    checkout without a local `main` and applies that manifest only."""
    origin = Origin(tmp_path / "git")
    for model in ("churn", "fraud"):
        spec = {"target": "azureml", "endpoint": f"pipe-{model}"}
        origin.write(f"model-manifests/production/{model}.yaml", _manifest(model, "1", spec))
    origin.push("Add churn and fraud")
    spec = {"target": "azureml", "endpoint": "pipe-churn"}
    origin.write("model-manifests/production/churn.yaml", _manifest("churn", "2", spec))
    pushed = origin.push("Promote churn 2")
    sources = tmp_path / "agent" / "s"
    origin.checkout(sources, pushed)

    steps = run_pipeline(_agent(world, sources, pushed))

    assert _git(sources, "for-each-ref", "refs/heads") == ""
    assert [s.returncode for s in steps] == [0], steps[-1].stderr[-3000:]
    assert "applied   model-manifests/production/churn.yaml 2" in steps[-1].stdout
    assert _endpoint_traffic(world, "pipe-churn") == {"v-2": 100}
    assert _endpoint_traffic(world, "pipe-fraud") is None


def _start_run(world: AzureWorld, version: str) -> int:
    """promobot's azure-devops target starting the pipeline for churn `version`."""
    from azure.devops.v7_1.pipelines.models import RunPipelineParameters

    from bot.azure.settings import AzureDevOpsSettings
    from bot.targets.azure_devops import build_pipelines_client

    settings = AzureDevOpsSettings(
        organization_url=f"{world.base_url}/{world.config.devops_organization}",
        project=PROJECT,
        token=world.config.devops_pat,
    )
    parameters = {"model": "churn", "version": version, "environment": "production"}
    run = build_pipelines_client(settings).run_pipeline(
        RunPipelineParameters(template_parameters=parameters), PROJECT, PIPELINE_ID
    )
    return int(run.id)


def _devops_repository(tmp_path: Path) -> tuple[Origin, str]:
    """churn deploys through this pipeline; fraud, changed in the same commit, on Azure ML."""
    origin = Origin(tmp_path / "git")
    devops = {"target": "azure-devops", "endpoint": "churn", "pipeline_id": PIPELINE_ID}
    origin.write("model-manifests/production/churn.yaml", _manifest("churn", "2", devops))
    fraud = {"target": "azureml", "endpoint": "pipe-fraud-2"}
    origin.write("model-manifests/production/fraud.yaml", _manifest("fraud", "1", fraud))
    return origin, origin.push("Promote churn 2, add fraud")


def _run_started_for(
    world: AzureWorld, tmp_path: Path, version: str
) -> tuple[int, list[subprocess.CompletedProcess[str]]]:
    """A run promobot started for churn `version` in production, on the checkout of
    `_devops_repository`'s head: its id and the steps it ran."""
    origin, head = _devops_repository(tmp_path)
    run_id = _start_run(world, version)
    sources = tmp_path / "agent" / "s"
    origin.checkout(sources, head)
    agent = _agent(
        world,
        sources,
        head,
        build_id=str(run_id),
        model="churn",
        version=version,
        environment="production",
    )
    return run_id, run_pipeline(agent)


def test_a_run_promobot_started_applies_its_manifest_only_and_counts_itself(
    world: AzureWorld, tmp_path: Path
) -> None:
    """Started with model, version and environment, the run deploys that manifest: its own
    run is the deployment of `target: azure-devops`, and the other manifest waits for its
    own run."""
    run_id, steps = _run_started_for(world, tmp_path, "2")

    assert [s.returncode for s in steps] == [0], steps[-1].stderr[-3000:]
    assert "applied   model-manifests/production/churn.yaml 2: this run (" in steps[-1].stdout
    assert f"buildId={run_id}" in steps[-1].stdout
    assert "fraud" not in steps[-1].stdout
    assert _endpoint_traffic(world, "pipe-fraud-2") is None


def test_a_run_started_for_a_version_main_no_longer_pins_fails(
    world: AzureWorld, tmp_path: Path
) -> None:
    """The request is stale: the run fails and deploys nothing."""
    _run_id, steps = _run_started_for(world, tmp_path, "1")

    assert steps[-1].returncode == 2
    assert "pins version 2, not 1" in steps[-1].stderr
    assert _endpoint_traffic(world, "pipe-fraud-2") is None
