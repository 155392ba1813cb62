"""Errors a user can act on. Each says what is wrong and how to fix it."""

from __future__ import annotations


class PromobotError(Exception):
    """Base of promobot's own errors: `str(error)` is the message, `hint` how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"


class UserInputError(PromobotError):
    """Bad input from a person: a file, a flag, a URI. Shown without a traceback."""


class UnknownModelVersion(UserInputError):
    """The registry has no such model or version."""


class TargetError(PromobotError):
    """A deployment target refused or failed an operation; what served keeps serving."""


class ForgeError(PromobotError):
    """The forge (GitHub) refused an operation."""
