"""`promobot demo`: the whole loop on local processes, narrated."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from bot.errors import PromobotError


def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds `policies/` and `templates/`."""
    candidates = (start, *start.parents, Path(__file__).resolve().parents[2])
    for folder in candidates:
        if (folder / "policies").is_dir() and (folder / "templates").is_dir():
            return folder
    return None


def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="Folder for the demo's state; a temporary one by default.")
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the services up until Ctrl-C.")
    ] = False,
) -> None:
    """Run the whole promotion loop locally: retrain, pull request, merge, CD, revert, reject."""
    repo_root = find_repo_root(Path.cwd())
    if repo_root is None:
        typer.echo(
            "error: run the demo from the promobot repository (policies/ not found)", err=True
        )
        raise typer.Exit(2)
    from bot.cli.sandbox import INSTALL_HINT, is_sandbox_installed  # noqa: PLC0415

    if not is_sandbox_installed():
        typer.echo(
            f"error: the demo runs the sandbox GitHub, and promobot-sandbox is not installed"
            f"\nhint: {INSTALL_HINT}",
            err=True,
        )
        raise typer.Exit(2)
    # Imported here: MLflow and scikit-learn take seconds, and every command would pay for them.
    from bot.demo.narration import Narrator  # noqa: PLC0415
    from bot.demo.script import run_loop  # noqa: PLC0415
    from bot.demo.world import World  # noqa: PLC0415

    folder = (workdir or Path(tempfile.mkdtemp(prefix="promobot-demo-"))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    narrator = Narrator()
    narrator.say(f"working in {folder}; service logs in {folder / 'logs'}")
    world = World(folder, repo_root)
    try:
        run_loop(world, narrator)
        narrator.summary()
        if keep_running:
            narrator.say("the services keep running; press Ctrl-C to stop them")
            _wait_for_interrupt()
    except PromobotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        world.services.stop()
        narrator.say("stopped every process the demo started")


def _wait_for_interrupt() -> None:
    """Until Ctrl-C or SIGTERM (a service manager, `kill`), so that the `finally` above
    stops every process either way."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        signal.pause()
    except KeyboardInterrupt:
        return
