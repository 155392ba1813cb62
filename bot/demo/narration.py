"""The demo's transcript: numbered stages with their wall time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console


@dataclass
class Narrator:
    """Prints what happens and records how long each stage took."""

    console: Console = field(default_factory=Console)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def stage(self, title: str) -> Iterator[None]:
        """One numbered stage; its wall time is printed and kept."""
        number = len(self.timings) + 1
        self.console.print(f"\n[bold]{number}. {title}[/bold]", soft_wrap=True)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings.append((title, elapsed))
            self.console.print(f"   [dim]({elapsed:.1f} s)[/dim]")

    def say(self, text: str) -> None:
        """One line of the transcript."""
        self.console.print(f"   {text}", highlight=False, soft_wrap=True)

    def summary(self) -> None:
        """Wall time per stage, and the total."""
        self.console.print("\n[bold]Wall time per stage[/bold]")
        for title, seconds in self.timings:
            self.console.print(f"   {seconds:6.1f} s  {title}", highlight=False, soft_wrap=True)
        total = sum(s for _, s in self.timings)
        self.console.print(f"   {total:6.1f} s  total", highlight=False)
