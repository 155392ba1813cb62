"""The `promobot` command line. Each command lives in a module of its own.

A command's module is imported only when that command runs (or shows its own
`--help`): `promobot --help` and `promobot validate` must not pay for FastAPI,
MLflow, scikit-learn and the store, which other commands need. The table
below is all the top level knows of a command: its name, its one-line help
and where it lives. `tests/cli/test_startup.py` checks the table against the
commands themselves.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo

# MLflow's per-file download bars would drown the CLI's own output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


@dataclass(frozen=True)
class LazyCommand:
    """A command the top level lists without importing it.

    `target` is `module:attribute`: a command function, a `typer.Typer` of
    subcommands, or a sequence of `CommandInfo` that makes a group.
    """

    name: str
    target: str
    summary: str


COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand(
        "validate",
        "bot.cli.files:validate",
        "Check manifests and policies; print `path:line:column: field: message` per problem.",
    ),
    LazyCommand("schema", "bot.cli.files:schema", "Print the JSON Schema of a file format."),
    LazyCommand(
        "verify-record",
        "bot.cli.files:verify_record",
        "Check a decision record's SSH signature (as `ssh-keygen -Y verify` does).",
    ),
    LazyCommand(
        "serve-models",
        "bot.cli.serve_models:serve_models",
        "Serve MLflow pyfunc models per (model, environment), with blue/green and canary.",
    ),
    LazyCommand(
        "evaluate",
        "bot.cli.evaluate:evaluate",
        "Compare two models on the same rows, with paired CIs and p-values.",
    ),
    LazyCommand(
        "demo",
        "bot.cli.demo:demo",
        "Run the whole promotion loop locally: retrain, pull request, merge, CD, revert, reject.",
    ),
    LazyCommand(
        "serve",
        "bot.cli.serve:serve",
        "Receive GitHub, MLflow and Azure webhooks and process them from the event store.",
    ),
    LazyCommand(
        "apply",
        "bot.cli.cd:apply",
        "Make every target serve the manifests of BRANCH changed since the last applied commit.",
    ),
    LazyCommand(
        "diff",
        "bot.cli.cd:diff",
        "Compare what serves with the manifests of BRANCH. Exit 1 on drift, 2 if unreadable.",
    ),
    LazyCommand(
        "history",
        "bot.cli.cd:history",
        "Promotions and rollbacks of MODEL, from the git log of its manifests, newest first.",
    ),
    LazyCommand(
        "status",
        "bot.cli.cd:status",
        "Each stage of MODEL's path: what serves, since when, what it waits for.",
    ),
    LazyCommand(
        "simulate",
        "bot.cli.simulate:simulate",
        "Replay a policy file over the last N decision records of the models it applies to.",
    ),
    LazyCommand(
        "propose",
        "bot.cli.workflows:propose",
        "Evaluate a version and open or update its promotion pull request.",
    ),
    LazyCommand(
        "check",
        "bot.cli.workflows:check",
        "Fail when changed manifests disagree with the registry or the policy rejects them.",
    ),
    LazyCommand(
        "train",
        "bot.cli.workflows:train",
        "The example retraining job: train on synthetic churn data and register a version.",
    ),
    LazyCommand(
        "doctor",
        "bot.cli.github_app:doctor",
        "Check the GitHub App (or token): permissions, served repositories, claim conflicts.",
    ),
    LazyCommand(
        "app-manifest",
        "bot.cli.github_app:app_manifest",
        "Print a GitHub App manifest with exactly the permissions and events promobot needs.",
    ),
    LazyCommand(
        "sandbox", "bot.cli.sandbox:SANDBOX_COMMANDS", "Local stand-ins of GitHub and Azure."
    ),
    LazyCommand(
        "events",
        "bot.cli.events:events_app",
        "Stored webhook events: list them, replay parked ones.",
    ),
)


def _as_typer(command: LazyCommand, target: object) -> typer.Typer:
    """A Typer holding `target` under `command.name`, ready to be turned into click."""
    holder = typer.Typer(add_completion=False)
    holder.callback()(_no_options)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=command.name)
    elif isinstance(target, Sequence) and all(isinstance(c, CommandInfo) for c in target):
        group = typer.Typer(help=command.summary, no_args_is_help=True, add_completion=False)
        group.registered_commands.extend(target)
        holder.add_typer(group, name=command.name)
    elif callable(target):
        holder.command(command.name)(target)
    else:
        raise TypeError(f"{command.target} is not a command, a Typer or a list of commands")
    return holder


def _no_options() -> None:
    """Stands in for the options of a group that has none."""


def load_command(command: LazyCommand, rich_markup_mode: Any) -> Any:
    """Import the command's module and build its click command."""
    module, _, attribute = command.target.partition(":")
    target = getattr(importlib.import_module(module), attribute)
    holder = _as_typer(command, target)
    holder.rich_markup_mode = rich_markup_mode
    built = typer.main.get_command(holder)
    assert isinstance(built, TyperGroup)
    return built.commands[command.name]


class _Pending(TyperCommand):
    """The name and one-line help of a command whose module is not imported yet."""

    def __init__(self, command: LazyCommand) -> None:
        super().__init__(name=command.name, help=command.summary, short_help=command.summary)
        self.lazy = command


class LazyGroup(TyperGroup):
    """The top-level group: lists every command, imports one only to run it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in COMMANDS:
            self.commands.setdefault(command.name, _Pending(command))

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Pending) and name is not None:
            command = load_command(command.lazy, self.rich_markup_mode)
            self.commands[name] = command
        return name, command, rest


app = typer.Typer(
    name="promobot",
    cls=LazyGroup,
    help="GitOps model promotion: a pull request per retrain, policy-gated merges, CD from git.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(_no_options)
