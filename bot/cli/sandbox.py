"""`promobot sandbox github|azure …`: the stand-ins of GitHub and Azure, when installed.

They are a distribution of their own (`promobot-sandbox`, in `sandbox/` of the source
repository), kept out of the promobot wheel as moto and LocalStack are kept apart from
the SDKs they imitate. This command hands its arguments to `promobot-sandbox`.
"""

from __future__ import annotations

import importlib

import typer

SANDBOX_PACKAGE = "promobot_sandbox"
INSTALL_HINT = (
    "the sandboxes are a separate distribution: install it with "
    "`pip install ./sandbox` from a clone of promobot (`bash .ci/setup` does it)"
)


def is_sandbox_installed() -> bool:
    """True when `promobot-sandbox` can be imported."""
    try:
        importlib.import_module(SANDBOX_PACKAGE)
    except ImportError:
        return False
    return True


def run_sandbox(arguments: list[str]) -> int:
    """Run `promobot-sandbox ARGUMENTS`; exit 2 with the install hint when it is missing."""
    if not is_sandbox_installed():
        typer.echo(f"error: promobot-sandbox is not installed\nhint: {INSTALL_HINT}", err=True)
        return 2
    from promobot_sandbox.cli import main  # noqa: PLC0415 - optional distribution

    return main(arguments)


def _pass_through(name: str, summary: str) -> typer.models.CommandInfo:
    def command(context: typer.Context) -> None:
        raise typer.Exit(run_sandbox([name, *context.args]))

    command.__doc__ = f"{summary} (`--help` for its options)."
    return typer.models.CommandInfo(
        name=name,
        callback=command,
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "help_option_names": [],
        },
        help=command.__doc__,
    )


SANDBOX_COMMANDS = (
    _pass_through("github", "GitHub's REST API over real bare git repositories"),
    _pass_through("azure", "The Azure ML and Azure DevOps calls promobot makes"),
)
