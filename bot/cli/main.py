"""The `promobot` command line. Each command lives in a module of its own."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="promobot",
    help="GitOps model promotion: a pull request per retrain, policy-gated merges, CD from git.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="Local stand-ins of GitHub and Azure.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

# Command registrations: one line per command module.
from bot.cli.files import schema, validate  # noqa: E402

app.command("validate")(validate)
app.command("schema")(schema)
