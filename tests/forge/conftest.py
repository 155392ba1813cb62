"""Fixtures for the forge adapter tests: the sandbox GitHub and forges on it."""

from tests.forge.support import (  # noqa: F401 - fixtures used by the tests here
    forge,
    make_forge,
    make_sandbox,
)
from tests.support.github_sandbox import (  # noqa: F401 - fixtures used by the tests here
    github_sandbox,
    rest_contract,
    webhook_contract,
)
