"""YAML text -> plain data plus the line and column of every node.

Manifests and policies come from repository writers, so the text is read as a
stream of parser events (libyaml's C parser, through PyYAML) and the values
are built here, one event at a time, with the limits checked as the events
arrive: the work is linear in the text and stops at the first refusal.

- No anchors or aliases: our files never need them, and expanding aliases is
  how a file of a few hundred bytes grows into gigabytes.
- At most `MAX_DEPTH` levels of nesting and `MAX_NODES` keys and values.
- One document per file.
- Plain scalars follow YAML 1.2's core schema (`scalars.py`); keys are text.

Every refusal is a `YamlSyntaxError` carrying a located `Problem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events

from bot.formats.limits import text_size_problem
from bot.formats.problems import Position, Problem, field_name
from bot.formats.scalars import (
    MAP_TAG,
    SCALAR_TAGS,
    SEQ_TAG,
    STANDARD_TAG_PREFIX,
    ScalarError,
    resolve_plain,
    resolve_tagged,
)

__all__ = ["MAX_DEPTH", "MAX_NODES", "Problem", "YamlDocument", "YamlSyntaxError", "parse_yaml"]

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists; a policy needs five levels."""
MAX_NODES = 10_000
"""Most keys and values in one file; a policy or manifest has a few hundred at most."""

Loc = tuple[str | int, ...]

_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NO_ALIASES = (
    "is not allowed (promobot files use no anchors or aliases); write the value out in full"
)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: plain data and where each of its nodes starts."""

    path: str
    data: Any
    positions: dict[Loc, Position] = field(default_factory=dict)

    def position(self, loc: Sequence[int | str]) -> Position:
        """Where the node at `loc` (a pydantic error location) starts.

        A location that runs past the data (a missing field) points at the
        deepest existing node, which is where the field has to be added.
        """
        key = tuple(loc)
        while key:
            found = self.positions.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return (1, 1)


class YamlSyntaxError(Exception):
    """The text is not YAML promobot accepts; carries a `Problem` with the position."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class _Open:
    """A mapping or list whose end has not been seen yet."""

    loc: Loc
    value: dict[str, Any] | list[Any]
    key: str | None = None


class _Builder:
    """Plain values from parser events, refusing what promobot files must not hold."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.open: list[_Open] = []
        self.positions: dict[Loc, Position] = {}
        self.root: Any = None
        self.nodes = 0
        self.documents = 0

    def refuse(self, mark: Any, loc: Loc, message: str) -> YamlSyntaxError:
        line, column = _position(mark)
        return YamlSyntaxError(Problem(self.path, line, column, field_name(loc), message))

    def feed(self, event: events.Event) -> None:
        kind = type(event)
        if kind is events.ScalarEvent:
            self._scalar(event)  # type: ignore[arg-type]
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            self._start(event)  # type: ignore[arg-type]
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            self.open.pop()
        elif kind is events.AliasEvent:
            alias = f"`*{event.anchor}`"  # type: ignore[attr-defined]
            loc = self._next_loc() or self._parent_loc()
            raise self.refuse(event.start_mark, loc, f"YAML alias {alias} {_NO_ALIASES}")
        elif kind is events.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                raise self.refuse(
                    event.start_mark,
                    (),
                    "a second YAML document (`---`): keep one manifest or policy per file",
                )

    def _check_node(self, event: events.NodeEvent, loc: Loc) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.refuse(
                event.start_mark,
                loc,
                f"more than {MAX_NODES:,} keys and values in one file; "
                "a manifest or policy needs far fewer: remove what `promobot schema` does not list",
            )
        if event.anchor is not None:
            anchor = f"`&{event.anchor}`"
            raise self.refuse(event.start_mark, loc, f"YAML anchor {anchor} {_NO_ALIASES}")

    def _parent_loc(self) -> Loc:
        return self.open[-1].loc if self.open else ()

    def _next_loc(self) -> Loc | None:
        """Where the next node goes; None when it is a mapping key."""
        if not self.open:
            return ()
        parent = self.open[-1]
        if isinstance(parent.value, list):
            return (*parent.loc, len(parent.value))
        return None if parent.key is None else (*parent.loc, parent.key)

    def _place(self, event: events.NodeEvent, value: Any) -> None:
        """Put a node that is not a key where `_next_loc` said it goes."""
        if not self.open:
            self.root = value
            return
        parent = self.open[-1]
        if isinstance(parent.value, list):
            loc: Loc = (*parent.loc, len(parent.value))
            self.positions[loc] = _position(event.start_mark)
            parent.value.append(value)
        elif parent.key is not None:
            parent.value[parent.key] = value
            parent.key = None

    def _key(self, event: events.ScalarEvent, parent: _Open) -> None:
        key = event.value
        loc = (*parent.loc, key)
        first = self.positions.get(loc)
        if first is not None:
            raise self.refuse(
                event.start_mark,
                loc,
                f"duplicate key {key!r} (first at line {first[0]}): keep only one of them",
            )
        self.positions[loc] = _position(event.start_mark)
        parent.key = key

    def _scalar(self, event: events.ScalarEvent) -> None:
        loc = self._next_loc()
        self._check_node(event, self._parent_loc() if loc is None else loc)
        if loc is None:
            self._tag_must_be(event, self._parent_loc(), None)
            self._key(event, self.open[-1])
            return
        self._place(event, self._scalar_value(event, loc))

    def _scalar_value(self, event: events.ScalarEvent, loc: Loc) -> Any:
        tag = event.tag
        try:
            if tag is None and event.implicit[0]:
                return resolve_plain(event.value)
            if tag is None or tag == "!":
                return event.value
            if tag in SCALAR_TAGS:
                return resolve_tagged(tag, event.value)
        except ScalarError as exc:
            raise self.refuse(event.start_mark, loc, str(exc)) from exc
        raise self.refuse(event.start_mark, loc, _tag_message(tag))

    def _tag_must_be(self, event: events.NodeEvent, loc: Loc, allowed: str | None) -> None:
        tag = getattr(event, "tag", None)
        if tag not in (None, "!", allowed) and not (allowed is None and tag in SCALAR_TAGS):
            raise self.refuse(event.start_mark, loc, _tag_message(str(tag)))

    def _start(self, event: events.CollectionStartEvent) -> None:
        is_mapping = isinstance(event, events.MappingStartEvent)
        loc = self._next_loc()
        if loc is None:
            raise self.refuse(
                event.start_mark,
                self._parent_loc(),
                "a mapping key must be text, not a list or mapping",
            )
        self._check_node(event, loc)
        self._tag_must_be(event, loc, MAP_TAG if is_mapping else SEQ_TAG)
        if len(self.open) >= MAX_DEPTH:
            raise self.refuse(
                event.start_mark,
                loc,
                f"nested more than {MAX_DEPTH} levels deep; "
                "promobot files need a few levels: flatten this value",
            )
        value: dict[str, Any] | list[Any] = {} if is_mapping else []
        self._place(event, value)
        self.open.append(_Open(loc, value))


def _position(mark: Any) -> Position:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _tag_message(tag: str) -> str:
    shown = (
        "!!" + tag.removeprefix(STANDARD_TAG_PREFIX) if tag.startswith(STANDARD_TAG_PREFIX) else tag
    )
    return (
        f"YAML tag `{shown}` is not allowed; remove it "
        "(values are read as text, numbers, booleans or null)"
    )


def _syntax_problem(path: str, text: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        line, col = _position(exc.problem_mark or exc.context_mark)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return Problem(path, line, col, "<yaml>", f"{message}; fix the YAML syntax here")
    if isinstance(exc, yaml.reader.ReaderError):
        # libyaml counts the offset in bytes of UTF-8, PyYAML's own reader in characters.
        before = (
            text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "replace")
            if _LOADER is not yaml.SafeLoader
            else text[: exc.position]
        )
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return Problem(
            path, line, col, "<yaml>", f"{exc.reason}: remove the character #x{exc.character:04x}"
        )
    return Problem(path, 1, 1, "<yaml>", str(exc))


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse one YAML document, or raise `YamlSyntaxError` naming line and column."""
    too_large = text_size_problem(path, text)
    if too_large is not None:
        raise YamlSyntaxError(too_large)
    builder = _Builder(path)
    try:
        loader = _LOADER(text)
        try:
            while loader.check_event():
                builder.feed(loader.get_event())
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(_syntax_problem(path, text, exc)) from exc
    except UnicodeError as exc:
        raise YamlSyntaxError(
            Problem(path, 1, 1, "<file>", f"is not UTF-8 text ({exc}); save the file as UTF-8")
        ) from exc
    return YamlDocument(path=path, data=builder.root, positions=builder.positions)
