"""The `promobot` command line. Each command lives in a module of its own."""

from __future__ import annotations

import os

import typer

# MLflow's per-file download bars would drown the CLI's own output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

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
from bot.cli.serve_models import serve_models  # noqa: E402

app.command("serve-models")(serve_models)
from bot.cli.sandbox import SANDBOX_COMMANDS  # noqa: E402

sandbox_app.registered_commands.extend(SANDBOX_COMMANDS)
from bot.cli.evaluate import evaluate  # noqa: E402

app.command("evaluate")(evaluate)
from bot.cli.demo import demo  # noqa: E402

app.command("demo")(demo)
from bot.cli.serve import serve  # noqa: E402

app.command("serve")(serve)
from bot.cli.events import events_app  # noqa: E402

app.add_typer(events_app, name="events")
from bot.cli.cd import apply, diff, history  # noqa: E402

app.command("apply")(apply)
app.command("diff")(diff)
app.command("history")(history)
from bot.cli.workflows import check, propose, train  # noqa: E402

app.command("propose")(propose)
app.command("check")(check)
app.command("train")(train)
