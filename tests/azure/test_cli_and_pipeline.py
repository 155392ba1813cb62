"""`promobot sandbox azure` as a process, and the example Azure DevOps pipeline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promobot_sandbox.azure.config import SandboxAzureConfig
from ruamel.yaml import YAML

from bot.azure.settings import AzureDevOpsSettings
from bot.domain.manifest import ModelManifest
from bot.targets.azure_devops import AzureDevOpsTarget
from tests.azure.conftest import AzureWorld
from tests.support.http import LOCAL

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no line starting with {prefix!r} (exit code {process.poll()})")


def _terminate(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit code. A sandbox still running 30 s later is killed, and the
    test fails, so that it never outlives the test."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the sandbox was still running 30 s after SIGTERM") from None


@contextmanager
def _sandbox_cli(tmp_path: Path, *options: str) -> Iterator[subprocess.Popen[str]]:
    """`promobot sandbox azure` on a free port with its state in `tmp_path/data`; terminated
    (see `_terminate`) when the block ends."""
    promobot = Path(sys.executable).parent / "promobot"
    command = [str(promobot), "sandbox", "azure", "--port", "0", "--data", str(tmp_path / "data")]
    with subprocess.Popen(
        [*command, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            yield process
        finally:
            _terminate(process)


def test_the_cli_serves_the_sandbox_until_terminated(tmp_path: Path) -> None:
    """On a free port it prints where it listens and the settings to use; SIGTERM stops it."""
    with _sandbox_cli(tmp_path) as process:
        url = _wait_for_line(process, "sandbox Azure listening on ", 90).split()[-1]
        token = _wait_for_line(process, "  export PROMOBOT_AZURE_TOKEN=", 5)
        workspace = LOCAL.get(
            url + SandboxAzureConfig(data_dir=tmp_path).workspace_path,
            params={"api-version": "2023-04-01-preview"},
            headers={"Authorization": f"Bearer {token.strip().split('=', 1)[1]}"},
        )
        assert workspace.status_code == 200
        tracking = workspace.json()["properties"]["mlFlowTrackingUri"]
        assert tracking.startswith("azureml://127.0.0.1:")
    assert process.returncode == 0
    assert (tmp_path / "data").is_dir()


def _pipeline() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(PROJECT_ROOT / "azure-pipelines.yml")
    return loaded


def test_the_example_pipeline_takes_the_parameters_the_target_sends(azure: AzureWorld) -> None:
    """The template parameters a real run receives are exactly those the pipeline declares."""
    settings = AzureDevOpsSettings(
        organization_url=f"{azure.base_url}/{azure.config.devops_organization}",
        project="ml-platform",
        token=azure.config.devops_pat,
        poll_interval_seconds=0.02,
    )
    manifest = _manifest_for_pipeline(31)
    outcome = AzureDevOpsTarget(settings).apply(manifest, lambda _l: None)
    runs_url = f"{settings.organization_url}/ml-platform/_apis/pipelines/31/runs"
    [listed] = LOCAL.get(runs_url, auth=("", azure.config.devops_pat)).json()["value"]
    run = LOCAL.get(f"{runs_url}/{listed['id']}", auth=("", azure.config.devops_pat)).json()

    declared = {p["name"] for p in _pipeline()["parameters"]}

    assert outcome.changed
    assert set(run["templateParameters"]) == declared


def test_the_example_pipeline_runs_promobot_apply_on_manifest_changes() -> None:
    """CD on main for model-manifests/, one run per push, one apply at a time, signed in by a
    service connection whose session outlives a long rollout."""
    pipeline = _pipeline()
    steps = pipeline["stages"][0]["jobs"][0]["strategy"]["runOnce"]["deploy"]["steps"]
    apply_steps = [
        s for s in steps if "promobot apply" in str(s.get("inputs", {}).get("inlineScript", ""))
    ]

    assert pipeline["trigger"]["branches"]["include"] == ["main"]
    assert pipeline["trigger"]["paths"]["include"] == ["model-manifests"]
    assert pipeline["trigger"]["batch"] is False
    assert pipeline["lockBehavior"] == "sequential"
    assert [s["task"] for s in apply_steps] == ["AzureCLI@2"]
    assert apply_steps[0]["inputs"]["keepAzSessionActive"] is True
    assert apply_steps[0]["env"]["SYSTEM_ACCESSTOKEN"] == "$(System.AccessToken)"


def _manifest_for_pipeline(pipeline_id: int) -> ModelManifest:
    return ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": "churn",
            "environment": "production",
            "version": "4",
            "source": {"registry": "azureml", "uri": "azureml:churn:4"},
            "deployment": {
                "target": "azure-devops",
                "endpoint": "churn",
                "pipeline_id": pipeline_id,
            },
        }
    )


def test_the_cli_takes_a_seed_and_a_clock_factor(tmp_path: Path) -> None:
    """`--seed` starts the sandbox with pipelines, quota and names taken; `--clock-factor`
    makes Azure's minutes pass in wall-clock seconds."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "pipelines: [{id: 7, parameters: [{name: model}]}]\n"
        "taken_endpoint_names: [churn-prod]\n"
        "quota: {family_limits: {standardDSv2Family: 48}}\n",
        encoding="utf-8",
    )
    with _sandbox_cli(tmp_path, "--seed", str(seed), "--clock-factor", "600") as process:
        url = _wait_for_line(process, "sandbox Azure listening on ", 90).split()[-1]
        seeded = LOCAL.get(f"{url}/_sandbox/seed").json()
        clock = LOCAL.get(f"{url}/_sandbox/clock").json()

    assert [p["id"] for p in seeded["pipelines"]] == [7]
    assert seeded["taken_endpoint_names"] == ["churn-prod"]
    assert seeded["quota"]["family_limits"] == {"standardDSv2Family": 48}
    assert clock["factor"] == 600


def test_a_bad_seed_file_is_refused_with_what_is_wrong(tmp_path: Path) -> None:
    """Exit 2 and the field, before anything listens."""
    seed = tmp_path / "seed.yaml"
    seed.write_text("pipelines: [{id: 0}]\n", encoding="utf-8")
    promobot = Path(sys.executable).parent / "promobot"

    result = subprocess.run(
        [str(promobot), "sandbox", "azure", "--data", str(tmp_path / "d"), "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2
    assert "seed.pipelines.0.id" in result.stderr
