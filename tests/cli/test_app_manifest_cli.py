"""`promobot app-manifest` as a person runs it: valid JSON for GitHub's "register an App
from a manifest" flow, asking for exactly what the README tells an administrator to grant."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

from typer.testing import CliRunner

from bot.cli.main import app
from tests.conftest import PROJECT_ROOT

WEBHOOK_URL = "https://bot.example.com/webhooks/github"
SECTION = "## Install as a GitHub App"


def readme_section() -> str:
    """The README's "Install as a GitHub App" section."""
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : None if end < 0 else end]


def readme_permissions() -> dict[str, str]:
    """`| Repository contents (`contents`) | write | ... |` rows → {"contents": "write"}."""
    rows = re.findall(r"^\| [^|`]*\(`(\w+)`\) \| (\w+) \|", readme_section(), re.MULTILINE)
    return dict(rows)


def readme_events() -> list[str]:
    """The backticked names after "these webhook events:", up to the parenthesis."""
    section = readme_section()
    start = section.index("these webhook events:") + len("these webhook events:")
    listed = section[start : section.index("(", start)]
    return re.findall(r"`(\w+)`", listed)


def check_manifest(manifest: Any) -> None:
    assert manifest["default_permissions"] == readme_permissions()
    assert manifest["default_events"] == readme_events()
    assert manifest["hook_attributes"] == {"url": WEBHOOK_URL, "active": True}
    assert manifest["public"] is False


def test_the_readme_lists_what_the_check_compares() -> None:
    """The parsing above finds the README's table and events (else the next tests prove
    nothing)."""
    permissions, events = readme_permissions(), readme_events()
    assert len(permissions) == 8 and permissions["members"] == "read", permissions
    assert "pull_request" in events and "repository_dispatch" not in events, events


def test_app_manifest_prints_the_readmes_permissions_and_events() -> None:
    result = CliRunner().invoke(
        app, ["app-manifest", "--webhook-url", WEBHOOK_URL, "--name", "promobot-acme"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    check_manifest(manifest)
    assert manifest["name"] == "promobot-acme"


def test_app_manifest_in_a_process_of_its_own_is_json_on_stdout_alone() -> None:
    """What `promobot app-manifest ... > manifest.json` writes is the manifest and nothing else."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "app-manifest", "--webhook-url", WEBHOOK_URL],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    check_manifest(manifest)
    assert manifest["name"] == "promobot"
