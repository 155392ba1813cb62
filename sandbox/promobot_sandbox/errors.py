"""Errors a sandbox user can act on: a bad seed file, an unreadable key."""

from __future__ import annotations


class SeedError(Exception):
    """The seed (or a file it names) is wrong; `str(error)` says what and how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"
