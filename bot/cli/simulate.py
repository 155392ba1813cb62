"""`promobot simulate`: what a policy file would have decided, replayed over the records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.cd import BranchOption, Format, FormatOption, RepoOption, render_table, user_errors
from bot.formats.limits import RefusedFile, read_text_file
from bot.gitrepo import GitRepo
from bot.workflows.simulate import DEFAULT_LAST, simulate_in_clone


def simulate(
    policy: Annotated[
        Path, typer.Option("--policy", help="The policy file as you would change it.")
    ],
    last: Annotated[
        int, typer.Option("--last", min=1, help="How many of the latest decisions to replay.")
    ] = DEFAULT_LAST,
    repo: RepoOption = Path("."),
    branch: BranchOption = "main",
    output: FormatOption = Format.TABLE,
) -> None:
    """Replay a policy file over the last N decision records of the models it applies to."""
    try:
        text = read_text_file(policy, str(policy))
    except RefusedFile as error:
        typer.echo(str(error.problem), err=True)
        raise typer.Exit(2) from error
    with user_errors(), GitRepo(repo) as git_repo:
        result = simulate_in_clone(git_repo, text, str(policy), branch, last)
    if output is Format.JSON:
        document = {
            "policy": str(policy),
            "summary": result.summary(),
            "replays": [
                {**replay.model_dump(mode="json"), "changed": replay.changed}
                for replay in result.replays
            ],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    if not result.replays:
        typer.echo(f"no decision record of a model {policy} governs on {branch}'s history")
        return
    rows = [
        [
            r.decided_at[:16].replace("T", " "),
            r.model,
            r.environment,
            f"v{r.version}",
            r.old.value,
            r.new.value + (" *" if r.changed else ""),
            ", ".join(r.flipped_rules) or "-",
        ]
        for r in result.replays
    ]
    headers = ["DECIDED", "MODEL", "ENVIRONMENT", "VERSION", "WAS", "WOULD BE", "RULES THAT FLIP"]
    typer.echo(render_table(headers, rows))
    typer.echo(result.summary())
