"""A problem with a file, at a line and column, in words a user can act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Position = tuple[int, int]
"""1-based line and column."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, at one place."""

    path: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.field}: {self.message}"


def field_name(loc: Sequence[int | str]) -> str:
    """`("compare", "guardrails", 0, "metric")` -> `compare.guardrails[0].metric`."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "<document>"
