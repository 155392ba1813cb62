"""The pure rules behind the Azure ML preflight: quota arithmetic and what the no-code MLflow
image accepts from a model's MLmodel and conda.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.azure_deployment import NoCodeRules, no_code_problems, required_cores

MLMODEL = {"mlflow_version": "2.16.2", "flavors": {"python_function": {}, "sklearn": {}}}


def _conda(*pip: str) -> dict[str, Any]:
    return {"dependencies": ["python=3.11", "pip<=24.0", {"pip": list(pip)}]}


@pytest.mark.parametrize(
    ("cores", "instances", "skips", "needed"),
    [(4, 1, False, 8), (4, 2, False, 12), (4, 3, False, 16), (4, 5, False, 24), (24, 1, True, 24)],
)
def test_a_deployment_holds_ceil_of_1_2_times_its_instances_in_cores(
    cores: int, instances: int, skips: bool, needed: int
) -> None:
    """Azure reserves 20% for upgrades, rounded up per instance, except on a few GPU sizes."""
    assert required_cores(cores, instances, skips_reservation=skips) == needed


@pytest.mark.parametrize(
    ("pip", "problem"),
    [
        (("mlflow==2.16.2", "azureml-ai-monitoring"), None),
        (("mlflow<3", "azureml-ai-monitoring"), None),
        (("mlflow~=2.16", "azureml-ai-monitoring"), None),
        (("mlflow>=2.9,<3.0", "azureml-ai-monitoring"), None),
        (("mlflow", "azureml-ai-monitoring"), "installs mlflow (the newest release)"),
        (("mlflow>=2.9", "azureml-ai-monitoring"), "installs mlflow>=2.9"),
        (("mlflow<=3.0", "azureml-ai-monitoring"), "installs mlflow<=3.0"),
        (("mlflow-skinny==3.1.0", "azureml-ai-monitoring"), "installs mlflow==3.1.0"),
        (("mlflow==2.16.2",), "does not install azureml-ai-monitoring"),
        (("mlflow==2.16.2", "azureml_ai_monitoring>=1.0"), None),
    ],
)
def test_the_mlflow_the_image_installs_and_its_packages_decide(
    pip: tuple[str, ...], problem: str | None
) -> None:
    """The image installs what conda.yaml asks for: a pin, a bound, or else the newest."""
    problems = no_code_problems("mlflow_model", MLMODEL, _conda(*pip), NoCodeRules())

    assert problems == [] if problem is None else any(problem in p for p in problems), problems


def test_without_mlflow_in_conda_yaml_the_logged_version_decides() -> None:
    """A model logged with MLflow 3 whose conda.yaml does not name mlflow still needs 3."""
    mlmodel = {**MLMODEL, "mlflow_version": "3.17.2"}

    problems = no_code_problems(
        "mlflow_model", mlmodel, _conda("azureml-ai-monitoring"), NoCodeRules()
    )

    assert problems == ["it was logged with mlflow 3.17.2; the no-code image needs mlflow<3"]


def test_rules_follow_azure_when_it_changes_the_image() -> None:
    """With MLflow 3 accepted, the same model passes."""
    rules = NoCodeRules(mlflow_below="4", required_packages=())

    assert no_code_problems("mlflow_model", MLMODEL, _conda("mlflow==3.1.0"), rules) == []


def test_a_folder_without_mlmodel_is_not_an_mlflow_model() -> None:
    """Registered as mlflow_model, but nothing for the image to load."""
    assert no_code_problems("mlflow_model", {}, None, NoCodeRules()) == [
        "its folder has no MLmodel file, so it is not an MLflow model"
    ]


def test_unread_files_leave_only_the_model_type_to_check() -> None:
    """Where the files cannot be read, the type is still known from the registry."""
    assert no_code_problems("mlflow_model", None, None, NoCodeRules()) == []
    assert no_code_problems("custom_model", None, None, NoCodeRules()) == [
        "it is registered as custom_model; the no-code image serves only mlflow_model"
    ]
