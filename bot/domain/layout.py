"""Where things live in a GitOps repository, and the names of the bot's branches.

Every path and branch name the bot reads or writes is built here, so a folder or a
naming rule is changed in one place.
"""

from __future__ import annotations

from typing import NamedTuple

MANIFEST_FOLDER = "model-manifests"
POLICY_FOLDER = "policies"
YAML_SUFFIXES = (".yaml", ".yml")
PROMOTION_BRANCH_PREFIX = "promobot/"
REVERT_BRANCH_PREFIX = "promobot/revert/"


class Promotion(NamedTuple):
    """Which (model, environment) a promotion branch promotes."""

    model: str
    environment: str


def manifest_path(model: str, environment: str) -> str:
    """`model-manifests/<environment>/<model>.yaml`."""
    return f"{MANIFEST_FOLDER}/{environment}/{model}.yaml"


def is_yaml(path: str) -> bool:
    """A `.yaml` or `.yml` file."""
    return path.endswith(YAML_SUFFIXES)


def is_manifest_path(path: str) -> bool:
    """A YAML file under `model-manifests/`."""
    return path.startswith(f"{MANIFEST_FOLDER}/") and is_yaml(path)


def is_policy_path(path: str) -> bool:
    """A YAML file under `policies/`."""
    return path.startswith(f"{POLICY_FOLDER}/") and is_yaml(path)


def promotion_branch(model: str, environment: str) -> str:
    """The one branch of the promotion pull request of (model, environment)."""
    return f"{PROMOTION_BRANCH_PREFIX}{environment}/{model}"


def revert_branch(pull_number: int) -> str:
    """The branch of the pull request that reverts merged promotion `pull_number`."""
    return f"{REVERT_BRANCH_PREFIX}{pull_number}"


def promotion_of(head_ref: str) -> Promotion | None:
    """(model, environment) of a promotion branch; None for revert and other branches.

    `revert` is therefore not usable as an environment name.
    """
    if not head_ref.startswith(PROMOTION_BRANCH_PREFIX) or head_ref.startswith(
        REVERT_BRANCH_PREFIX
    ):
        return None
    parts = head_ref[len(PROMOTION_BRANCH_PREFIX) :].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return Promotion(model=parts[1], environment=parts[0])
