"""`promobot demo`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from bot.demo.evaluation_stage import run_evaluation_demo
from bot.demo.narration import Narrator


def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds `policies/`."""
    for folder in (start, *start.parents):
        if (folder / "policies").is_dir():
            return folder
    source_checkout = Path(__file__).resolve().parents[2]
    return source_checkout if (source_checkout / "policies").is_dir() else None


def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="Folder for the demo's state; a temporary one by default.")
    ] = None,
) -> None:
    """Run the whole promotion loop locally and narrate it."""
    repo_root = find_repo_root(Path.cwd())
    if repo_root is None:
        typer.echo(
            "error: no policies/ folder found; run the demo from the promobot repository", err=True
        )
        raise typer.Exit(2)
    narrator = Narrator()
    temporary = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="promobot-demo-")) if workdir is None else workdir
    narrator.say(f"working in {folder}")
    run_evaluation_demo(folder, repo_root, narrator)
    narrator.summary()
    if temporary:
        narrator.say(f"state kept in {folder}; delete it when done")
