"""Before anything paid is created, the Azure ML target refuses what Azure would refuse or
crash on, each time with the fix: the endpoint name, the smoke request, the model the
no-code image must serve, and the quota for the new deployment's cores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.errors import TargetError, UserInputError
from bot.targets.azureml import AzureMLTarget
from tests.azure.conftest import AzureWorld, make_manifest, own_sandbox
from tests.support.http import LOCAL

WORKSPACE_OPERATOR: dict[str, Any] = {
    "token": "workspace-operator",
    "roles": [],
    "actions": [
        "Microsoft.MachineLearningServices/workspaces/*",
        "Microsoft.MachineLearningServices/locations/mfeOperationsStatus/read",
        "Microsoft.MachineLearningServices/locations/mfeOperationResults/read",
    ],
}
"""A role on the workspace only: it cannot read the region's usages and VM sizes."""


def _target(azure: AzureWorld, **settings: Any) -> AzureMLTarget:
    return AzureMLTarget(azure.settings(**settings), sleep=lambda _s: None)


@pytest.mark.parametrize("endpoint", ["churn_prod", "1churn", "c" * 50, "churn-"])
def test_an_endpoint_name_azure_refuses_is_refused_before_any_call(
    azure: AzureWorld, endpoint: str
) -> None:
    """`promobot validate` refuses these names; a manifest that reaches the target anyway
    (built in code, not read from a file) is refused there too, before any request."""
    with pytest.raises(ValidationError, match="must start with a letter"):
        make_manifest("1", endpoint)
    valid = make_manifest("1", "churn-ok")
    unchecked = valid.model_copy(
        update={"deployment": valid.deployment.model_copy(update={"endpoint": endpoint})}
    )
    with pytest.raises(UserInputError, match=r"deployment\.endpoint: endpoint name") as error:
        _target(azure).apply(unchecked, lambda _l: None)

    assert "must start with a letter, have 3-32 characters" in str(error.value)
    assert azure.requests(f"/onlineEndpoints/{endpoint}") == []


def test_an_endpoint_name_taken_in_the_region_says_to_choose_another(azure: AzureWorld) -> None:
    """Names are unique across Azure's customers: Azure's own words (in the error's details)
    and the fix are in the message."""
    azure.seed(taken_endpoint_names=["churn-taken"])

    with pytest.raises(TargetError, match="endpoint name churn-taken is taken") as error:
        _target(azure).apply(make_manifest("1", "churn-taken"), lambda _l: None)

    assert "Endpoint name needs to be unique within a region" in str(error.value)
    assert "prefixed with your team or workspace" in str(error.value)
    assert azure.requests(r"PUT .*/onlineEndpoints/churn-taken/deployments/") == []


def test_a_missing_smoke_request_is_found_before_anything_is_created(
    azure: AzureWorld, tmp_path: Path
) -> None:
    """Without `smoke-requests/churn.json` the new deployment could never be tested: no
    endpoint, no deployment, and the message names the file."""
    target = _target(azure, smoke_requests_dir=tmp_path)

    with pytest.raises(TargetError, match=r"churn\.json does not exist"):
        target.apply(make_manifest("1", "ep-nosmoke"), lambda _l: None)

    assert azure.requests("/onlineEndpoints/ep-nosmoke") == []


@pytest.fixture(scope="module")
def models(
    azure_world: AzureWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AzureWorld]:
    """A sandbox of its own, where these tests register the models they need."""
    with own_sandbox(azure_world, tmp_path_factory.mktemp("nocode")) as world:
        yield world


@pytest.mark.parametrize(
    ("version", "model", "problem"),
    [
        ("31", {"mlflow_version": "3.17.2"}, "mlflow==3.17.2; the no-code image needs mlflow<3"),
        ("32", {"packages": ()}, "its conda.yaml does not install azureml-ai-monitoring"),
        ("33", {"model_type": "custom_model"}, "registered as custom_model"),
        ("34", {"pyfunc": False}, "has no python_function flavour"),
    ],
)
def test_a_model_the_no_code_image_cannot_serve_is_refused_before_anything_is_created(
    models: AzureWorld, version: str, model: dict[str, Any], problem: str
) -> None:
    """MLflow 3, no azureml-ai-monitoring, not an MLflow model, no pyfunc flavour: Azure
    would crash the container after minutes of provisioning, or refuse the PUT."""
    azure = models
    azure.register(version, model="churn-nocode", **model)
    endpoint = f"ep-nocode-{version}"
    manifest = make_manifest(version, endpoint)
    source = manifest.source.model_copy(update={"uri": f"azureml:churn-nocode:{version}"})
    manifest = manifest.model_copy(update={"source": source})

    with pytest.raises(UserInputError, match="cannot be served by Azure ML's no-code") as error:
        _target(azure).apply(manifest, lambda _l: None)

    assert f"model churn-nocode version {version} cannot be served" in str(error.value)
    assert problem in str(error.value)
    assert "azureml-ai-monitoring" in str(error.value.hint)
    assert azure.requests(f"^(PUT|PATCH|DELETE|POST) .*/onlineEndpoints/{endpoint}") == []


def test_a_deployment_the_quota_cannot_hold_is_refused_with_the_arithmetic(
    azure: AzureWorld,
) -> None:
    """Three Standard_F4s_v2 instances hold ceil(1.2 x 3) x 4 = 16 of the family's default 24
    cores; the next version needs 16 more beside them, so its deployment is never PUT."""
    target = _target(azure, retire_grace_seconds=0)
    sized = {"instance_type": "Standard_F4s_v2", "instance_count": 3}
    target.apply(make_manifest("1", "ep-quota", **sized), lambda _l: None)

    with pytest.raises(TargetError, match=r"needs ceil\(1\.2 x 3\) x 4 = 16 cores") as error:
        target.apply(make_manifest("2", "ep-quota", **sized), lambda _l: None)

    message = str(error.value)
    assert "16 of 24 are in use" in message
    assert "this endpoint's v-1 16 (Succeeded)" in message
    assert "so 8 are free" in message
    assert "request more quota" in message
    assert azure.requests(r"PUT .*/ep-quota/deployments/v-2$") == []
    assert target.state(
        "churn", "production", make_manifest("1", "ep-quota").deployment
    ).traffic == {"1": 100}


def test_the_quota_check_warns_when_the_next_version_will_not_fit(azure: AzureWorld) -> None:
    """Three instances of a 4-core size hold 16 of 24 cores: this version fits, the next one
    of the same size will not fit beside it."""
    lines: list[str] = []
    sized = {"instance_type": "Standard_E4s_v3", "instance_count": 3}

    _target(azure).apply(make_manifest("1", "ep-quota-warn", **sized), lines.append)

    assert any("needs ceil(1.2 x 3) x 4 = 16 cores of standardESv3Family" in ln for ln in lines)
    assert any(ln.startswith("warning: after v-1, 8 cores") for ln in lines)


def test_a_quota_refusal_on_the_put_shows_azures_detail(models: AzureWorld) -> None:
    """Unchecked (no right to read usages), the quota is Azure's to refuse: its synchronous
    400 says only `The request is invalid.`, and the shortfall in the error's details is in
    the message."""
    models.seed(identities=[WORKSPACE_OPERATOR])
    sized = {"instance_type": "Standard_F4s_v2", "instance_count": 6}
    target = _target(models, token=WORKSPACE_OPERATOR["token"])

    with pytest.raises(TargetError, match=r"BadRequest: The request is invalid\.") as error:
        target.apply(make_manifest("1", "ep-put-quota", **sized), lambda _l: None)

    assert "Not enough quota available for Standard_F4s_v2" in str(error.value)
    assert "Additional needed: 32" in str(error.value)


def test_a_model_that_names_an_environment_skips_the_no_code_rules(models: AzureWorld) -> None:
    """An MLflow 3 model runs in the team's own environment: the deployment carries it and
    Azure provisions it."""
    models.register("36", model="churn-own-env", mlflow_version="3.17.2")
    manifest = make_manifest("36", "ep-own-env", azureml={"environment": "azureml:churn-env:2"})
    source = manifest.source.model_copy(update={"uri": "azureml:churn-own-env:36"})
    manifest = manifest.model_copy(update={"source": source})

    outcome = _target(models).apply(manifest, lambda _l: None)

    deployment = LOCAL.get(
        f"{models.base_url}{models.config.workspace_path}/onlineEndpoints/ep-own-env"
        "/deployments/v-36",
        params={"api-version": "2023-04-01-preview"},
        headers={"Authorization": f"Bearer {models.config.arm_token}"},
    ).json()

    assert outcome.state.traffic == {"36": 100}
    assert deployment["properties"]["environmentId"].endswith("/environments/churn-env/versions/2")


def test_without_the_right_to_read_the_regions_usages_the_quota_is_left_to_azure(
    models: AzureWorld,
) -> None:
    """A role scoped to the workspace cannot read the subscription's usages in the region:
    the deployment goes ahead, and the progress says the quota was not checked."""
    models.seed(identities=[WORKSPACE_OPERATOR])
    lines: list[str] = []

    outcome = _target(models, token=WORKSPACE_OPERATOR["token"]).apply(
        make_manifest("1", "ep-no-usages"), lines.append
    )

    assert outcome.state.traffic == {"1": 100}
    assert any(ln.startswith("quota not checked: AuthorizationFailed") for ln in lines)
