"""A local stand-in for GitHub: the REST v3 subset promobot uses, real bare git
repositories, signed webhooks. PyGithub talks to it through `base_url`."""

from promobot_sandbox.github.app import API_PREFIX, create_app
from promobot_sandbox.github.sandbox import Checks, Sandbox
from promobot_sandbox.github.server import SandboxServer, prepare

__all__ = ["API_PREFIX", "Checks", "Sandbox", "SandboxServer", "create_app", "prepare"]
