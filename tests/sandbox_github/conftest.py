"""The sandbox GitHub fixtures (see tests/support/github_sandbox.py)."""

from tests.support.github_sandbox import (  # noqa: F401 - fixtures used by the tests here
    github_sandbox,
    rest_contract,
    webhook_contract,
)
