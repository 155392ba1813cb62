"""`python -m bot.server`: `promobot serve` without loading the other commands."""

from __future__ import annotations

import typer

from bot.cli.serve import serve

if __name__ == "__main__":
    typer.run(serve)
