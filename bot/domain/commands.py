"""`/promobot <command>` comments: parsing and who may use them. Pure."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Command(enum.StrEnum):
    """What a person can ask the bot on a pull request."""

    MERGE = "merge"
    RECHECK = "recheck"
    HOLD = "hold"
    UNHOLD = "unhold"
    EXPLAIN = "explain"
    ROLLBACK = "rollback"


_LINE = re.compile(r"^\s*/promobot(?:\s+(?P<word>\S+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """A command line found in a comment, or the unknown word that was given."""

    command: Command | None
    word: str


def parse_command(body: str) -> Parsed | None:
    """The first `/promobot …` line of a comment; None when the comment has none."""
    for line in body.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        word = (match["word"] or "").lower()
        try:
            return Parsed(Command(word), word)
        except ValueError:
            return Parsed(None, word)
    return None


def usage() -> str:
    """The list of commands, for replies to unknown ones."""
    return "commands: " + ", ".join(f"`/promobot {c.value}`" for c in Command)
