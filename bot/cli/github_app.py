"""`promobot doctor` and `promobot app-manifest`: setting promobot up as a GitHub App."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.errors import PromobotError


def doctor() -> None:
    """Check the GitHub App (or token): permissions, served repositories, claim conflicts."""
    from bot.doctor import Severity, diagnose  # noqa: PLC0415 - PyGithub only when used
    from bot.settings import load_settings  # noqa: PLC0415

    try:
        findings = diagnose(load_settings().require_github())
    except PromobotError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for finding in findings:
        typer.echo(str(finding))
    errors = sum(finding.severity is Severity.ERROR for finding in findings)
    typer.echo(f"{errors} error(s)")
    if errors:
        raise typer.Exit(1)


def app_manifest(
    webhook_url: Annotated[
        str, typer.Option(help="Where GitHub delivers events: https://HOST/webhooks/github.")
    ],
    name: Annotated[str, typer.Option(help="The App's name (unique on GitHub).")] = "promobot",
    homepage: Annotated[
        str, typer.Option(help="The App's homepage.")
    ] = "https://github.com/promobot/promobot",
) -> None:
    """Print a GitHub App manifest with exactly the permissions and events promobot needs.

    Post it to GitHub's "register an App from a manifest" flow.
    """
    from bot.forge.permissions import app_manifest as manifest  # noqa: PLC0415

    typer.echo(json.dumps(manifest(name, webhook_url, homepage), indent=2))
