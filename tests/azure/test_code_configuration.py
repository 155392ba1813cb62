"""A model Azure ML's no-code MLflow image cannot serve runs with the environment and
scoring script its manifest names (`deployment.azureml`): the deployment's create-or-update
body carries both, as the sandbox records it, and the version serves.

The scoring code here is a registered code asset (`azureml:<name>:<version>`), which
azure-ai-ml turns into its ARM id without a call. A folder of the repository would be
uploaded to the workspace's blob datastore first, which the sandbox does not imitate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.manifest import ModelManifest
from bot.errors import UserInputError
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import AzureWorld, make_manifest, own_sandbox
from tests.support.http import LOCAL

MODEL = "churn-scored"
VERSION = "41"
ENVIRONMENT = "azureml:churn-inference:3"
CODE = "azureml:churn-score:1"


@pytest.fixture(scope="module")
def world(
    azure_world: AzureWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AzureWorld]:
    """A sandbox of its own with a version the no-code image cannot serve for three reasons:
    registered as `custom_model`, logged with MLflow 3, no `azureml-ai-monitoring`. (Its
    files are still an MLflow pyfunc model, which is what the sandbox's container loads
    whatever the scoring script.)"""
    with own_sandbox(azure_world, tmp_path_factory.mktemp("code-configuration")) as own:
        own.register(
            VERSION, model=MODEL, model_type="custom_model", mlflow_version="3.1.0", packages=()
        )
        yield own


def _manifest(endpoint: str, **deployment: Any) -> ModelManifest:
    manifest = make_manifest(VERSION, endpoint, **deployment)
    source = manifest.source.model_copy(update={"uri": f"azureml:{MODEL}:{VERSION}"})
    return manifest.model_copy(update={"source": source})


def _recorded(world: AzureWorld, endpoint: str, deployment: str) -> dict[str, Any]:
    """The deployment as the sandbox stored it from the create-or-update body."""
    response = LOCAL.get(
        f"{world.base_url}{world.config.workspace_path}/onlineEndpoints/{endpoint}"
        f"/deployments/{deployment}",
        params={"api-version": "2023-04-01-preview"},
        headers={"Authorization": f"Bearer {world.config.arm_token}"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_a_model_with_a_scoring_script_and_environment_is_deployed_with_them(
    world: AzureWorld,
) -> None:
    """Without `deployment.azureml` the model is refused before anything is created; with
    it, the PUT carries the environment and the code configuration, the version serves, and
    no no-code check stood in the way."""
    target = AzureMLTarget(world.settings(), sleep=lambda _s: None)
    with pytest.raises(UserInputError, match="no-code MLflow image: it is registered as custom"):
        target.apply(_manifest("ep-scored-nocode"), lambda _l: None)
    assert world.requests(r"PUT .*/onlineEndpoints/ep-scored-nocode") == []
    serving = {
        "environment": ENVIRONMENT,
        "code_configuration": {"code": CODE, "scoring_script": "score.py"},
    }
    lines: list[str] = []

    outcome = target.apply(_manifest("ep-scored", azureml=serving), lines.append)

    assert outcome.state.traffic == {VERSION: 100}
    puts = world.requests(r"PUT .*/onlineEndpoints/ep-scored/deployments/v-41$")
    assert [p["status"] for p in puts] == [201]
    properties = _recorded(world, "ep-scored", "v-41")["properties"]
    workspace = world.config.workspace_path
    assert properties["environmentId"] == f"{workspace}/environments/churn-inference/versions/3"
    assert properties["codeConfiguration"] == {
        "codeId": f"{workspace}/codes/churn-score/versions/1",
        "scoringScript": "score.py",
    }
    assert properties["model"] == f"{workspace}/models/{MODEL}/versions/{VERSION}"
    assert not any("no-code" in line for line in lines)
    assert [d for d, _ in world.score("ep-scored")] == ["v-41"]


def test_an_environment_without_a_scoring_script_leaves_the_code_configuration_out(
    world: AzureWorld,
) -> None:
    """`code_configuration` is optional (an environment whose image brings its own server,
    or an MLflow model): the PUT names the environment and no code, so no scoring script is
    invented."""
    target = AzureMLTarget(world.settings(), sleep=lambda _s: None)

    outcome = target.apply(
        _manifest("ep-scored-env", azureml={"environment": ENVIRONMENT}), lambda _l: None
    )

    assert outcome.state.traffic == {VERSION: 100}
    properties = _recorded(world, "ep-scored-env", "v-41")["properties"]
    assert properties["environmentId"].endswith("/environments/churn-inference/versions/3")
    assert properties.get("codeConfiguration") is None
