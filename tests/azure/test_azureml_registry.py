"""Azure ML as a model source: versions, tags and run metrics via azure-ai-ml and MLflow."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.azure.tracking import tracking_url
from bot.domain.manifest import RegistryKind
from bot.errors import UnknownModelVersion
from bot.registry.azureml import ALIAS_TAG, AzureMLRegistry
from tests.azure.conftest import MODEL, AzureWorld


def _registry(azure: AzureWorld) -> AzureMLRegistry:
    return AzureMLRegistry(azure.settings())


def test_a_version_carries_its_tags_and_the_metrics_of_the_run_behind_it(azure: AzureWorld) -> None:
    """The run is the job that produced the model; its metrics come from the workspace's MLflow."""
    info = _registry(azure).get_version(MODEL, "2")

    assert info.registry is RegistryKind.AZUREML
    assert info.uri == "azureml:churn:2"
    assert info.run_id == azure.run_ids["2"]
    assert info.metrics == {"rmse": 0.5, "r2": pytest.approx(0.7)}
    assert info.tags == {"team": "churn-ds", "version": "2"}
    assert info.source == f"azureml://jobs/{azure.run_ids['2']}/outputs/artifacts/paths/model/"
    assert info.created_at is not None
    assert abs(dt.datetime.now(dt.UTC) - info.created_at) < dt.timedelta(hours=1)


def test_versions_are_listed_oldest_first(azure: AzureWorld) -> None:
    """The protocol promises registration order, which numbers follow here."""
    versions = [v.version for v in _registry(azure).list_versions(MODEL)]

    assert versions == ["1", "2", "3", "9"]


def test_a_version_without_a_recorded_run_has_no_metrics(azure: AzureWorld) -> None:
    """Version 9 names a job the tracking service does not know: no metrics, no error."""
    info = _registry(azure).get_version(MODEL, "9")

    assert info.run_id == "missing-job"
    assert info.metrics == {}


def test_models_are_listed_by_name(azure: AzureWorld) -> None:
    """Every registered model name, once."""
    assert _registry(azure).list_models() == [MODEL]


def test_an_unknown_version_is_a_clear_error(azure: AzureWorld) -> None:
    """The message names the model, the version and the workspace."""
    with pytest.raises(UnknownModelVersion, match=r"'churn' has no version '42'.*promobot-ws"):
        _registry(azure).get_version(MODEL, "42")


def test_an_unknown_model_has_no_versions(azure: AzureWorld) -> None:
    """Listing the versions of a model nobody registered gives nothing."""
    assert _registry(azure).list_versions("nobody") == []


def test_an_alias_tag_sits_on_exactly_one_version(azure: AzureWorld) -> None:
    """Moving the alias takes the tag off the version that had it."""
    registry = _registry(azure)

    registry.set_alias(MODEL, "staging", "1")
    registry.set_alias(MODEL, "staging", "3")

    tagged = [v.version for v in registry.list_versions(MODEL) if ALIAS_TAG + "staging" in v.tags]
    assert tagged == ["3"]
    assert registry.alias_version(MODEL, "staging") == "3"
    assert registry.alias_version(MODEL, "canary") is None


@pytest.mark.parametrize(
    ("arm", "tracking", "expected"),
    [
        (
            None,
            "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s",
            "https://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s",
        ),
        (
            "http://127.0.0.1:8080",
            "azureml://127.0.0.1:8080/mlflow/v1.0/x",
            "http://127.0.0.1:8080/mlflow/v1.0/x",
        ),
        (None, "https://mlflow.example.com/", "https://mlflow.example.com/"),
    ],
)
def test_tracking_uris_map_to_http_urls(
    azure: AzureWorld, arm: str | None, tracking: str, expected: str
) -> None:
    """`azureml://` takes the scheme of the Resource Manager URL; other URIs stay as they are."""
    assert tracking_url(tracking, azure.settings(base_url=arm)) == expected
