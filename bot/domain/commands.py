"""`/promobot <command>` comments: parsing and who may use them. Pure.

A command counts only where a reader of the rendered comment sees it at the start of a
line: the comment is parsed as CommonMark, and only lines of top-level paragraphs count.
Code (fenced, `~~~`, indented or inline), block quotes, list items, HTML blocks and HTML
comments, which render as something other than an order or not at all, never hold one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from markdown_it import MarkdownIt
from markdown_it.token import Token


class Command(enum.StrEnum):
    """What a person can ask the bot on a pull request."""

    MERGE = "merge"
    RECHECK = "recheck"
    HOLD = "hold"
    UNHOLD = "unhold"
    EXPLAIN = "explain"
    ROLLBACK = "rollback"
    PROMOTE = "promote"


_LINE = re.compile(r"^\s*/promobot(?:\s+(?P<word>\S+))?(?:\s+(?P<rest>.*?))?\s*$", re.IGNORECASE)
_MARKDOWN = MarkdownIt("commonmark")
_SETEXT_MARKUPS = frozenset({"=", "-"})
_INVISIBLE = frozenset(
    {"html_inline", "em_open", "em_close", "strong_open", "strong_close", "link_open", "link_close"}
)


@dataclass(frozen=True)
class Parsed:
    """A command line found in a comment, or the unknown word that was given."""

    command: Command | None
    word: str
    rest: str = ""
    """What follows the command word on its line (options and their text)."""


def parse_command(body: str) -> Parsed | None:
    """The first `/promobot …` line a reader sees in a comment; None when it has none."""
    if "/promobot" not in body.lower():
        return None
    for line in visible_lines(body):
        match = _LINE.match(line)
        if match is None:
            continue
        word, rest = (match["word"] or "").lower(), (match["rest"] or "").strip()
        try:
            return Parsed(Command(word), word, rest)
        except ValueError:
            return Parsed(None, word, rest)
    return None


def visible_lines(body: str) -> Iterator[str]:
    """The lines of the comment's top-level paragraphs (and setext headings, whose text
    starts a line too) as they read once rendered: markup and HTML left out, inline code
    kept with its backticks so that it never reads as a command."""
    tokens = _MARKDOWN.parse(body)
    for before, token in pairwise(tokens):
        if token.type != "inline" or token.level != 1:
            continue
        if before.type == "paragraph_open" or (
            before.type == "heading_open" and before.markup in _SETEXT_MARKUPS
        ):
            yield from _lines(token.children or ())


def _lines(children: Sequence[Token]) -> Iterator[str]:
    line: list[str] = []
    for child in children:
        if child.type in {"softbreak", "hardbreak"}:
            yield "".join(line)
            line = []
        elif child.type == "code_inline":
            line.append(f"{child.markup}{child.content}{child.markup}")
        elif child.type not in _INVISIBLE:
            line.append(child.content)
    yield "".join(line)


def usage() -> str:
    """The list of commands, for replies to unknown ones."""
    return "commands: " + ", ".join(f"`/promobot {c.value}`" for c in Command)
