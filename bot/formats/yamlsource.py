"""YAML text -> plain data plus the line and column of every node.

Error messages must point at the offending node, so files are read with
ruamel.yaml's round-trip loader, which remembers positions, and converted to
plain Python values for pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

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


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: plain data and the round-trip tree that knows positions."""

    path: str
    data: Any
    tree: Any

    def position(self, loc: Sequence[int | str]) -> Position:
        """Where the node at `loc` (a pydantic error location) starts.

        A location that runs past the tree (a missing field) points at the
        deepest existing node, which is where the field has to be added.
        """
        node, pos = self.tree, (1, 1)
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line, col = node.lc.key(part)
                pos, node = (line + 1, col + 1), node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line, col = node.lc.item(part)
                pos, node = (line + 1, col + 1), node[part]
            else:
                break
        return pos


class YamlSyntaxError(Exception):
    """The text is not YAML; carries a `Problem` with the position."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse one YAML document, or raise `YamlSyntaxError` naming line and column."""
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlSyntaxError(Problem(path, line, col, "<yaml>", message)) from exc
    except YAMLError as exc:
        raise YamlSyntaxError(Problem(path, 1, 1, "<yaml>", str(exc))) from exc
    return YamlDocument(path=path, data=_plain(tree), tree=tree)
