"""Pure parts of the Azure targets: deployment names, traffic splits, settings and credentials."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from hypothesis import given
from hypothesis import strategies as st

from bot.azure.clients import (
    LoopbackBearerPolicy,
    StaticTokenCredential,
    bearer_policy,
    ml_client_kwargs,
)
from bot.azure.settings import AzureSettings
from bot.domain.azure_names import endpoint_name_problem
from bot.errors import TargetError, UserInputError
from bot.settings import Settings
from bot.targets.azureml import canary_traffic, deployment_name, smoke_request_from_dir
from tests.azure.conftest import make_manifest

AZURE_DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")


@pytest.mark.parametrize(
    ("version", "name"),
    [("7", "v-7"), ("12", "v-12"), ("2024-06-01", "v-2024-06-01")],
)
def test_deployment_names_show_the_version(version: str, name: str) -> None:
    """Someone looking at the endpoint in the portal sees which version each deployment holds."""
    assert deployment_name(version) == name


@given(st.from_regex(r"[0-9A-Za-z._-]{1,80}", fullmatch=True))
def test_every_manifest_version_gives_a_name_azure_accepts(version: str) -> None:
    """3-32 characters, a letter first, letters, digits and hyphens, no hyphen last."""
    assert AZURE_DEPLOYMENT_NAME.match(deployment_name(version))


def test_versions_that_differ_only_in_punctuation_get_different_names() -> None:
    """`1.0` and `1-0` must not share a deployment."""
    assert deployment_name("1.0") != deployment_name("1-0")


@pytest.mark.parametrize(
    "version", ["a" * 29 + "-b", "a" * 30 + "-", "2024-06-01-" + "x" * 19 + "-y", "A" * 31]
)
def test_a_version_past_30_characters_is_hashed_into_a_name_azure_accepts(version: str) -> None:
    """Cut at 32 characters, `aaaa…a-b` would end with a dash, which Azure refuses."""
    name = deployment_name(version)

    assert AZURE_DEPLOYMENT_NAME.match(name), name
    assert "--" not in name


def test_long_versions_that_differ_only_at_the_end_get_different_names() -> None:
    """Two 40-character versions sharing their first 32 characters are two deployments."""
    first, second = "a" * 39 + "1", "a" * 39 + "2"

    assert deployment_name(first) != deployment_name(second)


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("churn_prod", "holds '_'"),
        ("1churn", "starts with '1'"),
        ("c" * 50, "has 50 characters"),
        ("ab", "has 2 characters"),
        ("churn--prod", "holds '--'"),
        ("churn-", "ends with '-'"),
    ],
)
def test_endpoint_names_azure_refuses_are_named_with_the_rule(endpoint: str, problem: str) -> None:
    """What `promobot validate` and the target say about a name Azure ML refuses."""
    message = endpoint_name_problem(endpoint)

    assert message is not None
    assert problem in message
    assert message.endswith(
        "an Azure ML endpoint name must start with a letter, have 3-32 characters, use only "
        "letters, digits and single dashes, and end with a letter or digit"
    )


@pytest.mark.parametrize("endpoint", ["churn", "churn-prod", "Contoso-Churn-2", "c" * 32])
def test_endpoint_names_azure_accepts_pass(endpoint: str) -> None:
    """Letters, digits and single dashes, 3-32 characters, a letter first."""
    assert endpoint_name_problem(endpoint) is None


@given(
    old=st.dictionaries(
        st.sampled_from(["v-1", "v-2", "v-3"]), st.integers(1, 100), min_size=1, max_size=3
    ),
    share=st.integers(0, 100),
)
def test_a_canary_split_always_adds_up_to_100(old: dict[str, int], share: int) -> None:
    """Whatever the old split, the new deployment gets exactly its share and the sum is 100."""
    traffic = canary_traffic(old, "v-9", share)

    assert sum(traffic.values()) == 100
    assert traffic["v-9"] == share or (share == 0 and "v-9" in traffic)
    assert all(v >= 0 for v in traffic.values())


def test_a_canary_keeps_the_old_split_in_proportion() -> None:
    """Two old deployments at 75/25 keep that ratio in what the canary leaves them."""
    assert canary_traffic({"v-1": 75, "v-2": 25}, "v-3", 20) == {"v-3": 20, "v-1": 60, "v-2": 20}


def test_a_missing_smoke_request_says_where_to_put_one(tmp_path: Path) -> None:
    """The error names the file to create."""
    read = smoke_request_from_dir(tmp_path)

    with pytest.raises(TargetError, match=r"churn\.json does not exist") as error:
        read(make_manifest("1", "ep-x"))

    assert error.value.hint is not None


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure tooling's own variable names work, promobot's prefixed ones win."""
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "sub-from-azure-cli")
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg")
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "ws")
    monkeypatch.setenv("PROMOBOT_AZURE_WORKSPACE", "ws-promobot")
    monkeypatch.setenv("PROMOBOT_AZURE_RETIRE_GRACE_SECONDS", "600")
    monkeypatch.setenv("TOKEN", "must-not-be-read")

    settings = Settings().azure
    assert settings is not None

    assert (settings.subscription_id, settings.resource_group) == ("sub-from-azure-cli", "rg")
    assert settings.workspace == "ws-promobot"
    assert settings.retire_grace_seconds == 600
    assert settings.token is None
    assert settings.arm_url == "https://management.azure.com"


def test_devops_settings_read_the_variables_azure_pipelines_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside a pipeline the organization and project are already in the environment."""
    monkeypatch.setenv("SYSTEM_COLLECTIONURI", "https://dev.azure.com/contoso/")
    monkeypatch.setenv("SYSTEM_TEAMPROJECT", "ml")
    monkeypatch.setenv("AZURE_DEVOPS_EXT_PAT", "pat")

    settings = Settings().azure_devops
    assert settings is not None

    assert (settings.organization_url, settings.project) == ("https://dev.azure.com/contoso/", "ml")
    assert settings.token.get_secret_value() == "pat"


def _settings(base_url: str | None) -> AzureSettings:
    return AzureSettings(subscription_id="s", resource_group="g", workspace="w", base_url=base_url)


def test_https_uses_azures_own_authentication_policy() -> None:
    """Production keeps azure-core's HTTPS enforcement."""
    policy = bearer_policy(_settings(None), StaticTokenCredential("t"))

    assert type(policy) is ARMChallengeAuthenticationPolicy


def test_plain_http_is_allowed_only_for_loopback() -> None:
    """Credentials never travel in clear to another machine."""
    assert isinstance(
        bearer_policy(_settings("http://127.0.0.1:8080"), StaticTokenCredential("t")),
        LoopbackBearerPolicy,
    )
    with pytest.raises(UserInputError, match="plain HTTP"):
        bearer_policy(_settings("http://ml.example.com"), StaticTokenCredential("t"))


def test_the_public_cloud_needs_no_custom_cloud() -> None:
    """Without a base URL, azure-ai-ml uses its built-in Azure public cloud."""
    kwargs = ml_client_kwargs(_settings(None), StaticTokenCredential("t"))

    assert "cloud" not in kwargs
    assert "authentication_policy" not in kwargs
    assert kwargs["retry_total"] == 5
